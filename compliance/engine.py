"""The engine: runs a pack's rules over a case file and sums each rule up over the records it judged.

A rule's check is a pure function registered under the rule's id (`@check("VN-HW-05")`) in
compliance/rules/. It yields one Finding per record it applies to, reading the rule's numbers only through
its Judge, which remembers which parameters each verdict used. Findings are sorted, so a report never
depends on the order of the case file's records.
"""

from collections.abc import Callable, Iterable
from itertools import groupby
from operator import attrgetter
from typing import Any

from compliance.casefile import CaseFile, Evidence
from compliance.packs import Pack, Rule
from compliance.verdicts import Finding, Report, RuleSummary, Verdict, worst

Check = Callable[[CaseFile, "Judge"], Iterable[Finding]]
CHECKS: dict[str, Check] = {}


def check(rule_id: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        if rule_id in CHECKS:
            raise ValueError(f"two checks for rule {rule_id}")
        CHECKS[rule_id] = fn
        return fn

    return register


class Judge:
    """A check's access to its rule: the parameters (recorded as used) and the findings it gives."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.used: set[str] = set()
        self._used_sorted: tuple[str, ...] = ()

    def param(self, name: str) -> Any:
        if name not in self.used:
            self.used.add(name)
            self._used_sorted = tuple(sorted(self.used))
        return self.rule.parameter(name).value

    def finding(self, subject: str, verdict: Verdict, reason: str, *evidence: Evidence) -> Finding:
        # A record without a place on chain (Evidence()) proves nothing; the rest are ordered with their
        # missing fields first, as a record may lack some (a document has no log index).
        cited: tuple[Evidence, ...]
        if len(evidence) == 1:  # most findings cite one record: nothing to merge nor order
            cited = () if evidence[0] == _NOWHERE else evidence
        else:
            unique = set(evidence)
            unique.discard(_NOWHERE)
            cited = tuple(sorted(unique, key=_cited_order) if len(unique) > 1 else unique)
        return Finding(self.rule.id, subject, verdict, reason, cited, self._used_sorted)

    def passed(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return self.finding(subject, Verdict.PASS, reason, *evidence)

    def failed(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return self.finding(subject, Verdict.FAIL, reason, *evidence)

    def warned(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return self.finding(subject, Verdict.WARN, reason, *evidence)

    def inconclusive(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return self.finding(subject, Verdict.INCONCLUSIVE, reason, *evidence)

    def not_applicable(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return self.finding(subject, Verdict.NOT_APPLICABLE, reason, *evidence)


_NOWHERE = Evidence()
_cited_order = attrgetter("sort_key")


def _finding_order(f: Finding) -> tuple[object, ...]:
    return (f.subject, f.verdict.value, f.reason, [e.sort_key for e in f.evidence], f.parameters)


# The leading fields of _finding_order. A Verdict is a StrEnum: it compares as its value does.
_head = attrgetter("subject", "verdict", "reason")


def in_order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Each distinct finding once, sorted by _finding_order. A rule's findings nearly all differ in subject,
    verdict or reason: they are sorted on those alone, and only findings tied on all three are compared on
    their evidence and parameters (and merged when equal), rather than building and hashing that whole key
    for each of the tens of thousands of findings a large case gives."""
    ordered: list[Finding] = []
    for _, group in groupby(sorted(findings, key=_head), key=_head):
        tied = list(group)
        ordered += tied if len(tied) == 1 else sorted(set(tied), key=_finding_order)
    return tuple(ordered)


def evaluate(case: CaseFile, pack: Pack) -> Report:
    """Every rule of `pack` over `case`."""
    import compliance.rules  # noqa: F401  (registers every check)

    summaries = []
    for rule in sorted(pack.rules, key=lambda r: r.id):
        if rule.id not in CHECKS:
            raise KeyError(f"pack {pack.id} names rule {rule.id}, which the engine has no check for")
        judge = Judge(rule)
        findings = in_order(CHECKS[rule.id](case, judge))
        if not findings:
            findings = (judge.not_applicable(case.subject, "no record in this case file is subject to it"),)
        unconfirmed = tuple(sorted(p.name for p in rule.parameters if p.unconfirmed and p.name in judge.used))
        summaries.append(
            RuleSummary(
                rule.id,
                rule.title,
                rule.jurisdiction,
                rule.citation,
                rule.severity,
                worst([f.verdict for f in findings]),
                findings,
                unconfirmed,
            )
        )
    return Report(
        pack.id,
        pack.version,
        pack.content_hash,
        case.evaluation_date.isoformat(),
        case.subject,
        tuple(summaries),
        pack.overrides,
    )
