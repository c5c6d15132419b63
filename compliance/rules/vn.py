"""Vietnam's Critical and High rules (rule catalogue sections 3.1-3.4; 3.4 has none): classification,
product status, ordinary industrial solid waste (ICSW), hazardous waste (CTNH), permits, wastewater reuse
and feed.

A rule judges what the ledger records. What the ledger does not record (vehicles and their GPS tracks,
storage reports to the authority, the scope of a lab's accreditation by parameter) makes it INCONCLUSIVE,
naming what is missing, never PASS. A record that is cited but not in the case file (a certificate, its
results document) is missing evidence; a record never made (no certificate cited at all) is a failure.

Every check reads all of its rule's parameters before its first finding: a finding names the parameters
used so far, so reading them as it goes would make findings depend on the order of the records.
"""

import functools
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from compliance.casefile import (
    CaseFile,
    Certificate,
    Lot,
    Permit,
    Processing,
    ProcessingInput,
    ProcessingOutput,
    Signature,
    Transfer,
    WasteCode,
)
from compliance.engine import Check, Judge, check
from compliance.rules.common import (
    ENVIRONMENTAL_PERMIT,
    ZERO,
    custody_order,
    day,
    dispatch_order,
    subject,
    why_invalid,
)
from compliance.verdicts import Finding

SCHEME = "VN-TT02-2022"  # the list of Circular 02/2022/TT-BTNMT Annex III, as the ledger's catalogue names it
LAB_ACCREDITATION = "lab_accreditation"
# Lots whose holder generated the waste: declared generated, or a processor's own outputs (its residues).
GENERATED = ("generated", "produced")
RECEIVED = ("received", "rejected", "partially_rejected")

TransferCheck = Callable[[CaseFile, Judge, Transfer, WasteCode], Finding | None]


def each_transfer(hazardous: bool | None, returns: bool = False) -> Callable[[TransferCheck], Check]:
    """A check judging each transfer of hazardous (True), ordinary (False) or any (None) waste. A transfer
    whose code is not in the case file is INCONCLUSIVE: whether the rule applies is unknown. A return (the
    refused part of a load, going back) is judged only with `returns`: it has no carrier nor signatures of
    its own."""

    def wrap(judge_one: TransferCheck) -> Check:
        @functools.wraps(judge_one)
        def run(case: CaseFile, judge: Judge) -> Iterator[Finding]:
            read_parameters(judge)
            for t in case.transfers:
                if t.return_of is not None and not returns:
                    continue
                code = case.code(t.code_key)
                if code is None:
                    yield judge.inconclusive(
                        subject(t), f"its waste code {t.code_key} is not in the case file", t.evidence
                    )
                elif hazardous is None or code.hazardous == hazardous:
                    finding = judge_one(case, judge, t, code)
                    if finding is not None:
                        yield finding

        return run

    return wrap


def read_parameters(judge: Judge) -> dict[str, Any]:
    return {p.name: judge.param(p.name) for p in judge.rule.parameters}


def label(code: WasteCode) -> str:
    return f"code {code.label} '{code.description}'"


def at(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"


def mark(code: WasteCode, marks: list[str]) -> str | None:
    """The hazard mark `code` is written with, of `marks` (the longest first: '**' before '*')."""
    return _mark(code.code, tuple(marks))


@functools.cache
def _mark(code: str, marks: tuple[str, ...]) -> str | None:
    # Asked for each transfer by two rules: a park's few codes make the answers few.
    written = code.strip()
    return next((m for m in sorted(marks, key=len, reverse=True) if written.endswith(m)), None)


def cited(case: CaseFile, t: Transfer) -> tuple[list[Certificate], list[str], list[str]]:
    """The certificates a transfer cites: those of the shipped lot valid on its dispatch date, why each
    other one does not count, and the ids of those not in the case file."""
    valid, invalid, missing = [], [], []
    for certificate_id in sorted(t.certificates):
        c = case.certificate(certificate_id)
        if c is None:
            missing.append(certificate_id)
        elif c.lot_id != t.lot_id:
            invalid.append(f"certificate {c.id} is of lot {c.lot_id}, not of the shipped lot {t.lot_id}")
        elif not c.valid_on(t.dispatched_at):
            invalid.append(f"certificate {c.id} {why_invalid(c, t.dispatched_at)} on {day(t.dispatched_at)}")
        else:
            valid.append(c)
    return valid, invalid, missing


def by_labs(case: CaseFile, certificates: list[Certificate]) -> str:
    return "; ".join(
        f"certificate {c.id} by {case.name(c.lab)}, issued {day(c.issued_at)}" for c in certificates
    )


def against_limits(case: CaseFile, judge: Judge, t: Transfer, what: str, consequence: str) -> Finding:
    """The results of the certificates `t` cites against the rule's `limit_<result name>` parameters: each
    limit needs a result, and no result may exceed it."""
    table = judge.param("table")
    limits = {p.name.removeprefix("limit_"): p for p in judge.rule.parameters if p.name.startswith("limit_")}
    valid, invalid, missing = cited(case, t)
    evidence = (t.evidence, *(c.evidence for c in valid))
    if not valid and not missing:
        reason = "; ".join(invalid) or "none is cited"
        return judge.failed(
            subject(t), f"{what} without a valid certificate of analysis: {reason}", *evidence
        )
    over: list[str] = []
    highest: dict[str, int] = {}
    for c in valid:
        for name, value in sorted(c.results or ()):
            if name in limits:
                limit = limits[name]
                highest[name] = max(value, highest.get(name, value))
                if value > limit.value:
                    over.append(f"{name} is {value} {limit.unit} in certificate {c.id}, above {limit.value}")
    if over:
        return judge.failed(subject(t), f"{what}, but {'; '.join(over)} ({table}): {consequence}", *evidence)
    gaps = []
    if missing:
        gaps.append(f"certificate {', '.join(missing)} it cites is not in the case file")
    unread = [c.id for c in valid if c.results is None]
    if unread:
        gaps.append(f"the results document of certificate {', '.join(unread)} is not in the case file")
    absent = sorted(set(limits) - set(highest))
    if absent:
        gaps.append(f"no result for {', '.join(absent)}")
    if gaps:
        return judge.inconclusive(subject(t), f"{what}: {'; '.join(gaps)}", *evidence)
    within = ", ".join(
        f"{n} {v} (limit {limits[n].value} {limits[n].unit})" for n, v in sorted(highest.items())
    )
    return judge.passed(subject(t), f"{what}: {by_labs(case, valid)}: {within}, within {table}", *evidence)


def receiver_permit(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode, when: datetime, event: str
) -> Permit | Finding:
    """The receiver's environmental permit if it covers the transfer's code and operation on `when`; else
    the finding saying why not."""
    if t.permit_id in (None, ZERO):
        return judge.not_applicable(subject(t), "a return to its shipper needs no permit", t.evidence)
    permit = case.permit(t.permit_id)
    receiver = case.name(t.receiver)
    if permit is None:
        return judge.inconclusive(
            subject(t), f"the receiver's permit {t.permit_id} is not in the case file", t.evidence
        )
    if permit.kind != ENVIRONMENTAL_PERMIT or permit.holder != t.receiver:
        problem = (
            f"{permit.number} is a {permit.kind} of {case.name(permit.holder)}, not an environmental permit "
            f"of the receiver {receiver}"
        )
    elif not permit.valid_on(when):
        problem = (
            f"the environmental permit {permit.number} of the receiver {receiver} "
            f"{why_invalid(permit, when)} on {day(when)} ({event})"
        )
    elif not permit.covers(code.key, t.operation):
        problem = (
            f"the environmental permit {permit.number} of the receiver {receiver} does not cover {label(code)} "
            f"for operation {t.operation}"
        )
    else:
        return permit
    return judge.failed(subject(t), problem, t.evidence, permit.evidence)


def permitted(
    case: CaseFile, t: Transfer, permit: Permit, code: WasteCode, when: datetime, event: str
) -> str:
    return (
        f"the receiver {case.name(t.receiver)} holds environmental permit {permit.number}, valid on {day(when)} "
        f"({event}), covering {label(code)} for operation {t.operation}"
    )


def receiver_permitted(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode, when: datetime, event: str
) -> Finding:
    permit = receiver_permit(case, judge, t, code, when, event)
    if isinstance(permit, Finding):
        return permit
    return judge.passed(
        subject(t), permitted(case, t, permit, code, when, event), t.evidence, permit.evidence
    )


def code_of(case: CaseFile, item: ProcessingInput | ProcessingOutput) -> WasteCode | None:
    lot = case.lot(item.lot_id)
    return case.code(item.code_key or (lot.code_key if lot else ""))


def input_codes(case: CaseFile, p: Processing) -> list[WasteCode] | None:
    """The codes of a processing's inputs; None when one of them is not in the case file."""
    known = [c for c in (code_of(case, i) for i in p.inputs) if c is not None]
    return known if len(known) == len(p.inputs) else None


def codes(items: list[WasteCode]) -> str:
    return ", ".join(label(c) for c in sorted(set(items), key=lambda c: c.key))


def treats(permit: Permit, code: WasteCode) -> bool:
    """Whether `permit` allows some operation on `code`: a code an environmental permit lists without one
    is only declared as generated (VN-HW-01), not treated."""
    return any(c.code_key == code.key and c.operations for c in permit.coverage)


def names_material(code: WasteCode, terms: list[str]) -> bool:
    return _names_material(code.description, tuple(terms))


@functools.cache
def _names_material(description: str, terms: tuple[str, ...]) -> bool:
    # Asked once per transfer of a code: a park's few codes make the answers few.
    return any(re.search(rf"\b{re.escape(term)}\b", description, re.IGNORECASE) for term in terms)


# --- 3.1 classification and product status ------------------------------------------------------------


@check("VN-CLASS-01")
@each_transfer(hazardous=None, returns=True)
def code_from_the_vietnamese_list(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The transfer's code is one of Vietnam's list, as its generator assigned it to the lot."""
    if code.scheme != SCHEME:
        return judge.failed(
            subject(t),
            f"it carries {label(code)}, not a code of Vietnam's waste list ({SCHEME}, Circular 02/2022/TT-BTNMT)",
            t.evidence,
            code.evidence,
        )
    lot = case.lot(t.lot_id)
    assigned = (
        f", assigned by its generator {case.name(lot.generator or lot.holder)} to lot {lot.id} on {day(lot.created_at)}"
        if lot is not None and lot.origin == "generated"
        else ""
    )
    return judge.passed(subject(t), f"it carries {label(code)} of Vietnam's waste list{assigned}", t.evidence)


@check("VN-CLASS-02")
@each_transfer(hazardous=None)
def hazardous_unless_proven_otherwise(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """A code marked hazardous in every case is managed as hazardous; a control-required one may be managed
    as non-hazardous only on a certificate of analysis, whose lab VN-LAB-01 and results VN-CLASS-03 judge."""
    where = subject(t)
    if code.scheme != SCHEME:
        return judge.not_applicable(
            where, f"{label(code)} is not of Vietnam's list (see VN-CLASS-01)", t.evidence
        )
    always = mark(code, judge.param("hazardous_marks"))
    if always and not code.hazardous:
        return judge.failed(
            where,
            f"{label(code)} is hazardous in every case (marked '{always}'), yet it is registered and shipped as "
            "non-hazardous waste",
            t.evidence,
            code.evidence,
        )
    control = None if always else mark(code, judge.param("control_marks"))
    if control is None or code.hazardous:
        managed = "hazardous" if code.hazardous else "ordinary"
        why = f"marked '{always or control}'" if always or control else "carries no hazard mark"
        return judge.passed(where, f"{label(code)} {why} and is managed as {managed} waste", t.evidence)
    valid, invalid, missing = cited(case, t)
    controlled = f"{label(code)} requires control (marked '{control}')"
    evidence = (t.evidence, *(c.evidence for c in valid))
    if not valid and missing:
        return judge.inconclusive(
            where,
            f"{controlled} and is managed as non-hazardous on certificate {', '.join(missing)}, which is not in "
            "the case file",
            *evidence,
        )
    if not valid:
        return judge.failed(
            where,
            f"{controlled}, yet it is managed as non-hazardous without an analysis proving it: "
            f"{'; '.join(invalid) or 'no certificate of analysis is cited'}",
            *evidence,
        )
    if all(c.results is None for c in valid):
        return judge.inconclusive(
            where,
            f"{controlled} and is managed as non-hazardous on {by_labs(case, valid)}, whose results document is "
            "not in the case file",
            *evidence,
        )
    return judge.passed(
        where,
        f"{controlled} and is managed as non-hazardous on the analysis of {by_labs(case, valid)} "
        "(VN-LAB-01 judges the lab, VN-CLASS-03 the results against the thresholds)",
        *evidence,
    )


@check("VN-CLASS-03")
@each_transfer(hazardous=False)
def results_within_hazardous_thresholds(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding | None:
    """A control-required code managed as non-hazardous: every threshold has a result, none is exceeded."""
    control = mark(code, judge.param("control_marks"))
    if code.scheme != SCHEME or control is None:
        return None
    what = f"{label(code)} requires control (marked '{control}') and is managed as non-hazardous"
    return against_limits(case, judge, t, what, "the waste is hazardous")


@check("VN-LAB-01")
def lab_certified_for_the_analysis(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """Each certificate's lab held an accreditation of an accepted scheme on the day it issued it, covering
    the certified lot's code. The ledger records the issue date, not the sampling date; and the scope by
    parameter only as the waste codes an accreditation covers."""
    schemes = read_parameters(judge)["accepted_schemes"]
    for c in case.certificates:
        yield _accreditation(case, judge, c, schemes)


def _accreditation(case: CaseFile, judge: Judge, c: Certificate, schemes: list[str]) -> Finding:
    where, lab = f"certificate {c.id}", case.name(c.lab)
    accreditation = case.permit(c.accreditation_id)
    if accreditation is None:
        return judge.inconclusive(
            where,
            f"the accreditation {c.accreditation_id} of the lab {lab} is not in the case file",
            c.evidence,
        )
    evidence = (c.evidence, accreditation.evidence)
    number, lot = accreditation.number, case.lot(c.lot_id)
    code = case.code(lot.code_key) if lot else None
    held = f"the lab {lab} held accreditation {number} on {day(c.issued_at)}"
    if accreditation.kind != LAB_ACCREDITATION or accreditation.holder != c.lab:
        problem = (
            f"{number} is a {accreditation.kind} of {case.name(accreditation.holder)}, not a lab accreditation "
            f"of the lab {lab}"
        )
    elif not any(scheme.upper() in number.upper() for scheme in schemes):
        problem = f"the lab {lab} holds accreditation {number}, not one of an accepted scheme ({', '.join(schemes)})"
    elif not accreditation.valid_on(c.issued_at):
        problem = (
            f"the accreditation {number} of the lab {lab} {why_invalid(accreditation, c.issued_at)} on "
            f"{day(c.issued_at)}, when it issued the certificate"
        )
    elif not accreditation.coverage:
        return judge.warned(
            where,
            f"{held}, but the materials and parameters in its scope are not recorded on the ledger: check them "
            "on the accreditation",
            *evidence,
        )
    elif lot is None or code is None:
        return judge.inconclusive(
            where, f"the waste code of the certified lot {c.lot_id} is not in the case file", *evidence
        )
    elif not accreditation.covers(code.key):
        problem = f"the accreditation {number} of the lab {lab} does not cover {label(code)} of lot {lot.id}"
    else:
        return judge.passed(where, f"{held}, covering {label(code)} of lot {lot.id}", *evidence)
    return judge.failed(where, problem, *evidence)


@check("VN-BP-01")
def product_status_only_with_conformity(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """A processing's product or by-product lot: non-hazardous, made from non-hazardous waste (recovery of
    hazardous waste is VN-HW-12's), with a certificate standing as evidence that it meets its use's
    standard. Without one it remains waste."""
    for p in case.processings:
        inputs = input_codes(case, p)
        made = f"of processing {p.id} by {case.name(p.processor)} on {day(p.recorded_at)}"
        for o in p.outputs:
            if o.kind not in ("product", "by_product"):
                continue
            where, kind, code = f"lot {o.lot_id}", o.kind.replace("_", "-"), code_of(case, o)
            if code is None or inputs is None:
                yield judge.inconclusive(
                    where, f"the waste code of an input or output {made} is not in the case file", p.evidence
                )
            elif code.hazardous:
                yield judge.failed(
                    where,
                    f"the {kind} {made} carries hazardous {label(code)}: only non-hazardous waste can become a "
                    "product (Decree 08/2022/ND-CP Art. 65(1))",
                    p.evidence,
                )
            elif any(c.hazardous for c in inputs):
                hazardous = codes([c for c in inputs if c.hazardous])
                yield judge.not_applicable(
                    where,
                    f"the {kind} {made} is recovered from hazardous {hazardous}: VN-HW-12 judges it",
                    p.evidence,
                )
            else:
                yield conformity(case, judge, p, o, f"the {kind} {made}, {label(code)}")


def conformity(case: CaseFile, judge: Judge, p: Processing, o: ProcessingOutput, what: str) -> Finding:
    certificates = sorted((c for c in case.certificates if c.lot_id == o.lot_id), key=lambda c: c.id)
    standing = [c for c in certificates if c.revoked_at is None or c.revoked_at > case.evaluation_date]
    evidence = (p.evidence, *(c.evidence for c in certificates))
    if standing:
        return judge.passed(
            f"lot {o.lot_id}",
            f"{what}: its conformity for use rests on {by_labs(case, standing)} "
            f"(the standard met is stated in document {', '.join(c.document_hash for c in standing)})",
            *evidence,
        )
    revoked = "; ".join(f"certificate {c.id} {why_invalid(c, case.evaluation_date)}" for c in certificates)
    return judge.failed(
        f"lot {o.lot_id}",
        f"{what}: {revoked + ', so ' if revoked else ''}no certificate shows it meets the standard for its use: "
        "it remains waste",
        *evidence,
    )


# --- 3.1 ordinary industrial solid waste ---------------------------------------------------------------

GROUPS = (
    ("a", "group_a_operations", "reuse or recycling as production raw material"),
    ("b", "group_b_operations", "building materials or ground levelling"),
    ("c", "group_c_operations", "treatment"),
)


@check("VN-ICSW-01")
@each_transfer(hazardous=False)
def sorted_into_a_group(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The operation an ordinary waste is sent for places it in group (a), (b) or (c) of LEP Art. 81(1)."""
    for group, parameter, use in GROUPS:
        if t.operation in judge.param(parameter):
            return judge.passed(
                subject(t),
                f"{label(code)} is sorted into group ({group}), {use}, by operation {t.operation}",
                t.evidence,
            )
    return judge.failed(
        subject(t),
        f"{label(code)} is sent for operation '{t.operation}', which places it in none of the groups of LEP "
        "Art. 81(1): unsorted, it may only go to treatment (group (c))",
        t.evidence,
    )


@check("VN-ICSW-02")
@each_transfer(hazardous=False)
def building_use_meets_its_standard(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding | None:
    """Group (b): a certificate of the shipped lot, valid on dispatch, is the evidence of the standard met."""
    if t.operation not in judge.param("operations"):
        return None
    what = f"{label(code)} is sent for operation {t.operation} (building materials or ground levelling)"
    valid, invalid, missing = cited(case, t)
    evidence = (t.evidence, *(c.evidence for c in valid))
    if valid:
        return judge.passed(
            subject(t),
            f"{what} with {by_labs(case, valid)}, valid on {day(t.dispatched_at)}, as evidence of the standard "
            f"it meets (stated in document {', '.join(c.document_hash for c in valid)})",
            *evidence,
        )
    if missing:
        return judge.inconclusive(
            subject(t),
            f"{what} on certificate {', '.join(missing)}, which is not in the case file",
            *evidence,
        )
    return judge.failed(
        subject(t),
        f"{what} without evidence that it meets the applicable standard: "
        f"{'; '.join(invalid) or 'no certificate is cited'}",
        *evidence,
    )


@check("VN-ICSW-03")
@each_transfer(hazardous=False, returns=True)
def ordinary_waste_to_a_permitted_receiver(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding:
    """The receiver's environmental permit covers the code and operation on the dispatch date."""
    return receiver_permitted(case, judge, t, code, t.dispatched_at, "dispatch")


# --- 3.2 hazardous waste -----------------------------------------------------------------------------


@check("VN-HW-01")
def generator_declared_the_code(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """Each lot of hazardous waste its holder generated: an environmental permit of the generator, valid on
    the day, declares the code; what it generated of the code that calendar year stays within the permit's
    yearly quantity (the ledger keeps one quantity per permit, not per code)."""
    tolerance = read_parameters(judge)["tolerance"]
    generated_in: dict[tuple[str, str, int], int] | None = None
    for lot in case.lots:
        code = case.code(lot.code_key)
        if lot.origin not in GENERATED or code is None or not code.hazardous:
            continue
        where, generator = f"lot {lot.id}", lot.generator or lot.holder
        permits = case.permits_of(generator, ENVIRONMENTAL_PERMIT)
        declaring = sorted(
            (p for p in permits if p.covers(code.key) and p.valid_on(lot.created_at)), key=lambda p: p.number
        )
        if not permits:
            yield judge.inconclusive(
                where,
                f"no environmental permit of the generator {case.name(generator)} is in the case file: its "
                f"declaration of hazardous {label(code)} cannot be checked",
                lot.evidence,
            )
            continue
        if not declaring:
            yield judge.failed(
                where,
                f"the generator {case.name(generator)} generated hazardous {label(code)} on {day(lot.created_at)}, "
                f"but none of its environmental permits valid then ({', '.join(sorted(p.number for p in permits))})"
                " declares that code",
                lot.evidence,
                *(p.evidence for p in permits),
            )
            continue
        permit, year = declaring[0], lot.created_at.year
        if generated_in is None:  # summed once for all the case's lots, not over them all for each
            generated_in = generated_by_year(case)
        generated = generated_in.get((generator, code.key, year), 0)
        stated = f"{generated} {code.unit} generated in {year}"
        if generated * 1000 > permit.yearly_capacity * (1000 + tolerance):
            yield judge.failed(
                where,
                f"{stated}, more than the {permit.yearly_capacity} {code.unit} yearly quantity of permit "
                f"{permit.number} which declares {label(code)} (tolerance {tolerance} per mille)",
                lot.evidence,
                permit.evidence,
            )
        else:
            yield judge.passed(
                where,
                f"the generator's environmental permit {permit.number} declares hazardous {label(code)}; {stated},"
                f" within its yearly quantity of {permit.yearly_capacity}",
                lot.evidence,
                permit.evidence,
            )


def generated_by_year(case: CaseFile) -> dict[tuple[str, str, int], int]:
    """What each generator generated of each code each calendar year: (generator, code, year) -> quantity."""
    generated: dict[tuple[str, str, int], int] = defaultdict(int)
    for lot in case.lots:
        if lot.origin in GENERATED:
            generated[(lot.generator or lot.holder, lot.code_key, lot.created_at.year)] += lot.quantity
    return generated


@check("VN-HW-03")
def storage_beyond_a_year_reported(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """Hazardous waste still held by its generator: held longer than the pack's limit since generation, the
    report to the authority is due, and the ledger holds no such report."""
    limit = read_parameters(judge)["max_storage_days"]
    for lot in case.lots:
        code = case.code(lot.code_key)
        stored = lot.balance > 0 and lot.created_at <= case.evaluation_date
        if lot.origin not in GENERATED or not stored or code is None or not code.hazardous:
            continue
        age = (case.evaluation_date - lot.created_at).days
        held = (
            f"{lot.balance} {code.unit} of hazardous {label(code)} has been stored for {age} days since its "
            f"generation on {day(lot.created_at)}"
        )
        if age <= limit:
            yield judge.passed(f"lot {lot.id}", f"{held}, within {limit} days", lot.evidence)
        else:
            yield judge.inconclusive(
                f"lot {lot.id}",
                f"{held}, more than {limit} days: its holder {case.name(lot.holder)} must report it to the "
                "competent authority (Decree 45/2022/ND-CP Art. 29(1)), and no such report is on the ledger",
                lot.evidence,
            )


@check("VN-HW-04")
def receiver_permit_covers_hazardous_waste(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """The receiver's environmental permit covers code and operation on the dispatch date, and what was sent
    under it that calendar year (UTC, as the chain counts it), this transfer included, stays within its
    yearly capacity. Only the transfers in the case file are counted."""

    @functools.cache
    def sent() -> SentUnderPermits:  # once for the case, when a hazardous transfer first needs it
        return SentUnderPermits(case.transfers)

    @each_transfer(hazardous=True, returns=True)
    def judge_one(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
        permit = receiver_permit(case, judge, t, code, t.dispatched_at, "dispatch")
        if isinstance(permit, Finding):
            return permit
        year, drawn = t.dispatched_at.year, sent().up_to(t)
        if drawn > permit.yearly_capacity:
            return judge.failed(
                subject(t),
                f"with this transfer {drawn} {code.unit} was sent under the receiver's permit {permit.number} "
                f"in {year}, beyond its yearly capacity of {permit.yearly_capacity}",
                t.evidence,
                permit.evidence,
            )
        return judge.passed(
            subject(t),
            f"{permitted(case, t, permit, code, t.dispatched_at, 'dispatch')}; {drawn} {code.unit} of its "
            f"yearly capacity of {permit.yearly_capacity} used in {year} with this transfer",
            t.evidence,
            permit.evidence,
        )

    yield from judge_one(case, judge)


class SentUnderPermits:
    """What was sent under each permit each calendar year (UTC), in the order the chain recorded the
    dispatches: summed once for a case, rather than over all of its transfers for each of them."""

    def __init__(self, transfers: tuple[Transfer, ...]) -> None:
        by_permit: dict[tuple[str | None, int], list[Transfer]] = defaultdict(list)
        for t in transfers:
            by_permit[(t.permit_id, t.dispatched_at.year)].append(t)
        # For each permit and year: its transfers' dispatch orders, sorted, and the running totals.
        self.orders: dict[tuple[str | None, int], list[tuple[datetime, int, int, str]]] = {}
        self.totals: dict[tuple[str | None, int], list[int]] = {}
        for key, sent in by_permit.items():
            sent.sort(key=dispatch_order)
            self.orders[key] = [dispatch_order(t) for t in sent]
            self.totals[key] = list(accumulate(t.quantity for t in sent))

    def up_to(self, t: Transfer) -> int:
        """What was sent under `t`'s permit in its year by the transfers recorded up to `t`, `t` included."""
        key = (t.permit_id, t.dispatched_at.year)
        count = bisect_right(self.orders.get(key, []), dispatch_order(t))
        return self.totals[key][count - 1] if count else 0


@check("VN-HW-05")
@each_transfer(hazardous=True)
def only_generators_or_permitted_treaters_carry(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding:
    """Each carrier is (a) the waste's generator, whose vehicles' compliance the ledger does not hold, or
    (b) holds an accepted authorisation allowing an operation on the code, valid on the dispatch date: the
    licence the transfer names, or else any it holds."""
    if not t.transporters:
        return judge.inconclusive(
            subject(t),
            f"no carrier is recorded for hazardous {label(code)}: who carried it is not on the ledger",
            t.evidence,
        )
    standing = [carrier_standing(case, judge, t, code, i) for i in range(len(t.transporters))]
    evidence = (t.evidence, *(p.evidence for _, _, p in standing if p is not None))
    for verdict, found in (("failed", judge.failed), ("missing", judge.inconclusive)):
        problems = [text for outcome, text, _ in standing if outcome == verdict]
        if problems:
            return found(subject(t), "; ".join(problems), *evidence)
    carriers = ", ".join(text for _, text, _ in standing)
    return judge.passed(subject(t), f"hazardous {label(code)} carried by {carriers}", *evidence)


def carrier_standing(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode, leg: int
) -> tuple[str, str, Permit | None]:
    """("ok" | "missing" | "failed", why, the authorisation it carries under) for the carrier of `leg`."""
    carrier, lot = t.transporters[leg], case.lot(t.lot_id)
    name = case.name(carrier)
    licence_id = t.licences[leg] if leg < len(t.licences) else None
    if carrier == t.shipper:
        if lot is None:
            return (
                "missing",
                f"lot {t.lot_id} is not in the case file: whether its shipper {name} generated it is unknown",
                None,
            )
        if lot.origin in GENERATED and (lot.generator or lot.holder) == carrier:
            return (
                "missing",
                f"{name} carries waste it generated: that its vehicles meet the technical and management "
                "requirements (LEP Art. 83(4)(a)) is not on the ledger",
                None,
            )
    named = licence_id not in (None, ZERO)
    licence = case.permit(licence_id) if named else None
    if named and licence is None:
        return "missing", f"licence {licence_id} of {name} is not in the case file", None
    kinds = judge.param("accepted_authorisations")
    fit = sorted(
        (
            p
            for p in ([licence] if licence is not None else case.permits)
            if p.holder == carrier and p.kind in kinds and treats(p, code) and p.valid_on(t.dispatched_at)
        ),
        key=lambda p: p.number,
    )
    if fit:
        return "ok", f"{name} under {fit[0].kind} {fit[0].number}", fit[0]
    return (
        "failed",
        f"{name} is neither the generator nor holds an authorisation ({', '.join(kinds)}) covering "
        f"{label(code)} valid on {day(t.dispatched_at)}",
        None,
    )


@check("VN-HW-06")
@each_transfer(hazardous=True)
def vehicles_tracked(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The ledger holds no vehicles, positioning devices nor tracks: never PASS, only INCONCLUSIVE."""
    carriers = ", ".join(case.name(c) for c in t.transporters) or "no carrier recorded"
    return judge.inconclusive(
        subject(t),
        f"hazardous {label(code)} was carried ({carriers}): the positioning (GPS) device of each vehicle and its "
        "track against the routes and times set by the provincial People's Committee are not on the ledger",
        t.evidence,
    )


def signature(t: Transfer, party: str, *statements: str) -> Signature | None:
    signed = sorted(
        (s for s in t.signatures if s.party == party and s.statement in statements),
        key=custody_order,
    )
    return signed[0] if signed else None


def received(t: Transfer) -> bool:
    return t.received_quantity is not None or t.status in RECEIVED


def custody_steps(case: CaseFile, t: Transfer) -> list[tuple[str, str, tuple[str, ...]]]:
    """Who signs what on a manifest, in custody order: (step, party, statements)."""
    steps: list[tuple[str, str, tuple[str, ...]]] = [
        (f"the dispatch of the shipper {case.name(t.shipper)}", t.shipper, ("Dispatch",))
    ]
    for carrier in t.transporters:
        steps.append((f"the pick-up of the carrier {case.name(carrier)}", carrier, ("PickUp",)))
        steps.append((f"the delivery of the carrier {case.name(carrier)}", carrier, ("Delivery",)))
    steps.append(
        (f"the receipt of the receiver {case.name(t.receiver)}", t.receiver, ("Receipt", "Rejection"))
    )
    return steps


@check("VN-HW-07")
@each_transfer(hazardous=True)
def manifest_signed_by_every_party(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The transfer is the electronic manifest: each signatory role of the pack has signed its steps so far
    (a delivery once delivered, the receipt once received)."""
    roles = judge.param("signatories")
    due = {"Dispatch": True, "PickUp": True, "Delivery": received(t) or t.status == "delivered"}
    due["Receipt"] = received(t)
    role_of = {
        "Dispatch": "shipper",
        "PickUp": "transporter",
        "Delivery": "transporter",
        "Receipt": "receiver",
    }
    unsigned, pending, signed = [], [], []
    for step, party, statements in custody_steps(case, t):
        if role_of[statements[0]] not in roles:
            continue
        s = signature(t, party, *statements)
        if s is not None:
            signed.append(f"{step} ({at(s.recorded_at)})")
        elif due[statements[0]]:
            unsigned.append(step)
        else:
            pending.append(step)
    evidence = (t.evidence, *(s.evidence for s in t.signatures))
    if unsigned:
        return judge.failed(
            subject(t), f"the manifest of hazardous {label(code)} lacks {', '.join(unsigned)}", *evidence
        )
    if pending:
        return judge.warned(
            subject(t),
            f"the manifest is signed so far ({'; '.join(signed)}); {', '.join(pending)} "
            f"{'is' if len(pending) == 1 else 'are'} not yet due",
            *evidence,
        )
    return judge.passed(subject(t), f"the manifest is signed by every party: {'; '.join(signed)}", *evidence)


@check("VN-HW-08")
@each_transfer(hazardous=True)
def signatures_in_order_and_on_time(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The manifest's signatures follow custody order, and the receiver signs its receipt within the pack's
    days of the last delivery."""
    max_days = judge.param("receipt_sign_max_days")
    steps = [
        (step, s)
        for step, party, statements in custody_steps(case, t)
        if (s := signature(t, party, *statements))
    ]
    evidence = (t.evidence, *(s.evidence for _, s in steps))
    if not steps or steps[0][1].statement != "Dispatch":
        return judge.inconclusive(
            subject(t), "the shipper's signed dispatch is not in the case file", *evidence
        )
    for (before, earlier), (after, later) in zip(steps, steps[1:], strict=False):
        if later.recorded_at < earlier.recorded_at:
            return judge.failed(
                subject(t),
                f"{after} ({at(later.recorded_at)}) is recorded before {before} ({at(earlier.recorded_at)})",
                *evidence,
            )
    deliveries = [s.recorded_at for _, s in steps if s.statement == "Delivery"]
    receipt = steps[-1][1] if steps[-1][1].statement in ("Receipt", "Rejection") else None
    if (
        receipt is not None
        and deliveries
        and receipt.recorded_at - max(deliveries) > timedelta(days=max_days)
    ):
        return judge.failed(
            subject(t),
            f"the receiver signed its receipt on {at(receipt.recorded_at)}, more than {max_days} day(s) after the "
            f"last delivery ({at(max(deliveries))})",
            *evidence,
        )
    return judge.passed(
        subject(t),
        f"{len(steps)} signatures in custody order, from {steps[0][0]} to {steps[-1][0]}",
        *evidence,
    )


@check("VN-HW-10")
def received_matches_the_manifest(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """What the receiver measured (accepted and refused) against what was shipped, within the pack's
    tolerance; the lot its receipt opened carries the shipped code."""

    @functools.cache
    def opened_by() -> dict[str, list[Lot]]:  # once for the case, when a hazardous receipt first needs it
        lots: dict[str, list[Lot]] = defaultdict(list)
        for lot in case.lots:
            if lot.source_transfer is not None:
                lots[lot.source_transfer].append(lot)
        return lots

    @each_transfer(hazardous=True)
    def judge_one(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding | None:
        tolerance = judge.param("tolerance")
        if t.received_quantity is None:
            return None
        opened = sorted(opened_by().get(t.id, ()), key=lambda lot: lot.id)
        evidence = (t.evidence, *(lot.evidence for lot in opened))
        for lot in opened:
            if lot.code_key != t.code_key:
                other = case.code(lot.code_key)
                return judge.failed(
                    subject(t),
                    f"shipped as {label(code)}, it was received into lot {lot.id} as "
                    f"{label(other) if other else lot.code_key}",
                    *evidence,
                )
        measured = t.received_quantity + t.rejected_quantity
        delta = measured - t.quantity
        stated = f"the receiver measured {measured} {code.unit} against {t.quantity} {code.unit} shipped"
        if abs(delta) * 1000 > t.quantity * tolerance:
            return judge.failed(
                subject(t),
                f"{stated}: a difference of {abs(delta)} {code.unit}, beyond the tolerance of {tolerance} per "
                "mille",
                *evidence,
            )
        opened_lot = "carries the same code" if opened else "is not in the case file"
        return judge.passed(
            subject(t),
            f"{stated}, within the tolerance of {tolerance} per mille; the lot its receipt opened {opened_lot}",
            *evidence,
        )

    yield from judge_one(case, judge)


@check("VN-HW-12")
def no_mixing_nor_code_change(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """A transfer ships its lot under the lot's own code where either is hazardous; a processing with a
    hazardous input either runs under the processor's environmental permit covering that code, or neither
    mixes it with ordinary waste nor turns it into another code."""
    for t in case.transfers:
        lot = case.lot(t.lot_id)
        shipped, held = case.code(t.code_key), case.code(lot.code_key) if lot else None
        if (
            t.return_of is not None
            or lot is None
            or shipped is None
            or held is None
            or not (shipped.hazardous or held.hazardous)
        ):
            continue
        if shipped.key != held.key:
            yield judge.failed(
                subject(t),
                f"lot {lot.id} holds {label(held)}, but the transfer ships it as {label(shipped)}",
                t.evidence,
                lot.evidence,
            )
        else:
            yield judge.passed(subject(t), f"shipped under the code of its lot, {label(held)}", t.evidence)
    for p in case.processings:
        yield from _processing_keeps_hazardous_waste_apart(case, judge, p)


def _processing_keeps_hazardous_waste_apart(case: CaseFile, judge: Judge, p: Processing) -> Iterator[Finding]:
    where, processor = f"processing {p.id}", case.name(p.processor)
    inputs = input_codes(case, p)
    if inputs is None:
        yield judge.inconclusive(where, "the waste code of an input lot is not in the case file", p.evidence)
        return
    hazardous = [c for c in inputs if c.hazardous]
    if not hazardous:
        return
    permits = sorted(
        (
            pm
            for pm in case.permits_of(p.processor, ENVIRONMENTAL_PERMIT)
            if pm.valid_on(p.recorded_at) and all(treats(pm, c) for c in hazardous)
        ),
        key=lambda pm: pm.number,
    )
    if permits:
        yield judge.passed(
            where,
            f"{processor} treats hazardous {codes(hazardous)} under its environmental permit {permits[0].number}, "
            f"valid on {day(p.recorded_at)}",
            p.evidence,
            permits[0].evidence,
        )
        return
    unpermitted = f"without an environmental permit covering it on {day(p.recorded_at)}"
    ordinary = [c for c in inputs if not c.hazardous]
    outputs = [code_of(case, o) for o in p.outputs]
    changed = [c for c in outputs if c is not None and c.key not in {h.key for h in hazardous}]
    if ordinary:
        yield judge.failed(
            where,
            f"{processor} mixed hazardous {codes(hazardous)} with non-hazardous {codes(ordinary)} {unpermitted}",
            p.evidence,
        )
    elif changed:
        yield judge.failed(
            where,
            f"{processor} turned hazardous {codes(hazardous)} into {codes(changed)} {unpermitted}",
            p.evidence,
        )
    elif None in outputs:
        yield judge.inconclusive(where, "the waste code of an output lot is not in the case file", p.evidence)
    else:
        yield judge.passed(
            where, f"{processor} kept hazardous {codes(hazardous)} unmixed and under its own code", p.evidence
        )


# --- 3.3 permits, wastewater, feed -----------------------------------------------------------------


@each_transfer(hazardous=None, returns=True)
def _receipt_permitted(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding | None:
    if t.received_at is None:
        return None
    return receiver_permitted(case, judge, t, code, t.received_at, "receipt")


@check("VN-PERMIT-01")
def receivers_and_processors_permitted(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """Each receipt under the receiver's environmental permit covering code and operation on the receipt
    date; each processing under the processor's environmental permit covering every input code that day."""
    yield from _receipt_permitted(case, judge)
    for p in case.processings:
        where, processor = f"processing {p.id}", case.name(p.processor)
        inputs = input_codes(case, p)
        permits = case.permits_of(p.processor, ENVIRONMENTAL_PERMIT)
        if inputs is None:
            yield judge.inconclusive(
                where, "the waste code of an input lot is not in the case file", p.evidence
            )
        elif not permits:
            yield judge.inconclusive(
                where, f"no environmental permit of the processor {processor} is in the case file", p.evidence
            )
        else:
            uncovered = [
                c for c in inputs if not any(pm.valid_on(p.recorded_at) and treats(pm, c) for pm in permits)
            ]
            if uncovered:
                yield judge.failed(
                    where,
                    f"{processor} processed {codes(uncovered)} on {day(p.recorded_at)} without an environmental "
                    "permit valid then covering it",
                    p.evidence,
                    *(pm.evidence for pm in permits),
                )
            else:
                yield judge.passed(
                    where,
                    f"{processor}'s environmental permit covered every input, {codes(inputs)}, on "
                    f"{day(p.recorded_at)}",
                    p.evidence,
                )


@check("VN-WW-01")
@each_transfer(hazardous=None)
def reused_wastewater_fit_for_its_use(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding | None:
    """Wastewater passed to another firm: every limit of the reuse standard has a result, none is exceeded."""
    if not names_material(code, judge.param("material_terms")):
        return None
    what = f"{label(code)} is passed to {case.name(t.receiver)} for reuse"
    return against_limits(case, judge, t, what, "it is not fit for reuse")


@check("VN-FEED-01")
@each_transfer(hazardous=None)
def feed_material_within_safety_limits(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding | None:
    """A by-product for feed: every feed safety limit has a result, none is exceeded; VN-LAB-01 judges the
    lab and VN-BP-01 the product status."""
    if not names_material(code, judge.param("material_terms")):
        return None
    what = f"{label(code)} goes to {case.name(t.receiver)} as feed material"
    return against_limits(case, judge, t, what, "it may not be used as feed")
