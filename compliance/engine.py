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
        return Finding(self.rule.id, subject, verdict, reason, _cited(evidence), self._used_sorted)

    # Each builds its finding itself rather than through `finding`: a large case has tens of thousands of
    # them, and the extra call took a fifth of the time a rule spends on each.

    def passed(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return Finding(self.rule.id, subject, _PASS, reason, _cited(evidence), self._used_sorted)

    def failed(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return Finding(self.rule.id, subject, _FAIL, reason, _cited(evidence), self._used_sorted)

    def warned(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return Finding(self.rule.id, subject, _WARN, reason, _cited(evidence), self._used_sorted)

    def inconclusive(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return Finding(self.rule.id, subject, _INCONCLUSIVE, reason, _cited(evidence), self._used_sorted)

    def not_applicable(self, subject: str, reason: str, *evidence: Evidence) -> Finding:
        return Finding(self.rule.id, subject, _NOT_APPLICABLE, reason, _cited(evidence), self._used_sorted)


# Python 3.11 looks an enum's member up each time it is read from its class.
_PASS, _FAIL, _WARN = Verdict.PASS, Verdict.FAIL, Verdict.WARN
_INCONCLUSIVE, _NOT_APPLICABLE = Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE
_NOWHERE = Evidence()


def _cited(evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """Each piece of evidence once, ordered with their missing fields first, as a record may lack some (a
    document has no log index). A record without a place on chain (Evidence()) proves nothing."""
    if len(evidence) == 1:  # most findings cite one record: nothing to merge nor order
        e = evidence[0]
        # Whatever has a transaction is somewhere: the cheap test spares comparing each with Evidence().
        return () if e.tx_hash is None and e == _NOWHERE else evidence
    if len(evidence) == 2 and evidence[0].tx_hash and evidence[1].tx_hash:  # the next most common case
        a, b = evidence
        return (a,) if a == b else (a, b) if a.sort_key <= b.sort_key else (b, a)
    unique = set(evidence)
    unique.discard(_NOWHERE)
    return tuple(sorted(unique, key=_sort_key) if len(unique) > 1 else unique)


_sort_key = attrgetter("sort_key")


def _finding_order(f: Finding) -> tuple[object, ...]:
    return (f.subject, f.verdict.value, f.reason, [e.sort_key for e in f.evidence], f.parameters)


_subject = attrgetter("subject")


def in_order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Each distinct finding once, sorted by _finding_order. A rule's findings nearly all have subjects of
    their own: they are sorted on the subject alone (strings, which sort fastest), and only findings of the
    same subject are sorted on the whole key and merged when equal, rather than building and hashing that
    key for each of the tens of thousands of findings a large case gives."""
    by_subject = sorted(findings, key=_subject)
    if len(set(map(_subject, by_subject))) == len(by_subject):  # each of its own subject: nothing to tie
        return tuple(by_subject)
    ordered: list[Finding] = []
    for _, group in groupby(by_subject, key=_subject):
        same = list(group)
        ordered += same if len(same) == 1 else sorted(set(same), key=_finding_order)
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
