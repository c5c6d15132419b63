"""Verdicts, findings and reports: what the engine says, for which record, on what evidence."""

from dataclasses import dataclass, field
from enum import StrEnum

from compliance.casefile import Evidence


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    NOT_APPLICABLE = "N/A"
    INCONCLUSIVE = "INCONCLUSIVE"  # the evidence the rule needs is missing; regulators read it as FAIL


# How a rule's verdict over several records is summed up: the worst one counts.
SEVERITY_ORDER = (
    Verdict.FAIL,
    Verdict.INCONCLUSIVE,
    Verdict.WARN,
    Verdict.PASS,
    Verdict.NOT_APPLICABLE,
)


def worst(verdicts: list[Verdict]) -> Verdict:
    # Over the few distinct verdicts rather than each of a large case's tens of thousands of findings.
    return min(set(verdicts), key=SEVERITY_ORDER.index, default=Verdict.NOT_APPLICABLE)


@dataclass(frozen=True, order=True)
class Finding:
    """One rule's verdict on one record (`subject`, e.g. "transfer 0x…"), with the reason in the
    regulator's terms and the evidence it used."""

    rule_id: str
    subject: str
    verdict: Verdict
    reason: str
    evidence: tuple[Evidence, ...] = ()
    parameters: tuple[str, ...] = ()  # the pack parameters the verdict used


@dataclass(frozen=True)
class RuleSummary:
    rule_id: str
    title: str
    jurisdiction: str
    citation: str
    severity: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    unconfirmed: tuple[str, ...] = ()  # parameters used whose legal value is unconfirmed ([U])


@dataclass(frozen=True)
class Report:
    pack_id: str
    pack_version: str
    pack_hash: str  # sha256 of the pack's canonical JSON with the overrides applied: re-run it exactly
    evaluation_date: str
    subject: str
    rules: tuple[RuleSummary, ...]
    overrides: tuple[tuple[str, str], ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        return worst([r.verdict for r in self.rules])

    def counts(self) -> dict[str, int]:
        counts = {v.value: 0 for v in Verdict}
        for rule in self.rules:
            counts[rule.verdict.value] += 1
        return counts
