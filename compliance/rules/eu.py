"""EU rules (rule catalogue section 3.5): by-product and end-of-waste status under the Waste Framework
Directive, the iron and steel scrap and glass cullet criteria, List of Waste entries, Art. 35 records.

They judge records coded in the List of Waste (scheme "EU-LOW"). A processing's output declared a
"by_product" claims Art. 5 status; one declared a "product" from waste input lots claims end-of-waste
status (Art. 6), and its producer's transfers of it are the consignments the EU criteria speak of.

Lab results are read from certificates under these names, as integers: foreign materials in iron and steel
scrap in ppm by weight; a radioactivity measurement of the consignment in nSv/h (any value: its presence is
the certificate Annex I 1.5 asks for); the non-glass components of glass cullet in ppm and its size in
micrometres.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from compliance.casefile import CaseFile, Certificate, Evidence, Lot, Processing, Transfer, WasteCode
from compliance.engine import Judge, check
from compliance.rules.common import day, dispatch_order, subject
from compliance.rules.custody import (
    add_months,
    amount,
    certificates_of,
    days,
    kept,
    transfer_check,
    use_every_parameter,
)
from compliance.verdicts import Finding

EU_LOW = "EU-LOW"
LIST_OF_WASTE = "a List of Waste code"
FOREIGN_MATERIALS = "foreign_materials_ppm"
RADIOACTIVITY = "radioactivity_nsv_h"
FERROUS, NON_FERROUS = "ferrous_metals_ppm", "non_ferrous_metals_ppm"
INORGANICS, ORGANICS, CULLET_SIZE = "non_metal_non_glass_inorganics_ppm", "organics_ppm", "cullet_size_um"
LOW_ENTRY = re.compile(r"\d{2} ?\d{2} ?\d{2} ?\*?")


def _eu_code(case: CaseFile, key: str) -> WasteCode | None:
    code = case.code(key)
    return code if code is not None and code.scheme == EU_LOW else None


def _outputs(case: CaseFile, kind: str) -> Iterator[tuple[Processing, str, Lot | None]]:
    """Each output of `kind` of a processing that handled List of Waste lots."""
    for p in case.processings:
        lots = [case.lot(i.lot_id) for i in p.inputs] + [case.lot(o.lot_id) for o in p.outputs]
        if any(lot is not None and _eu_code(case, lot.code_key) for lot in lots):
            yield from ((p, o.lot_id, case.lot(o.lot_id)) for o in p.outputs if o.kind == kind)


def _recovered_products(case: CaseFile) -> Iterator[tuple[Processing, str, Lot | None]]:
    """Products of a processing of waste lots: each claims to have ceased to be waste."""
    return ((p, lot_id, lot) for p, lot_id, lot in _outputs(case, "product") if p.inputs)


def _shipments(case: CaseFile, lot_id: str) -> list[Transfer]:
    return sorted(
        (t for t in case.transfers if t.lot_id == lot_id and t.return_of is None),
        key=dispatch_order,
    )


def _consignments(case: CaseFile, codes: list[str]) -> Iterator[tuple[Transfer, Lot, WasteCode]]:
    """Its producer's transfers of an end-of-waste product coded in `codes`: the material ceases to be
    waste on that transfer (Reg. 333/2011 Art. 3; Reg. 1179/2012 Art. 3)."""
    for p, _, lot in _recovered_products(case):
        code = case.code(lot.code_key) if lot else None
        if lot is not None and code is not None and code.code in codes:
            yield from ((t, lot, code) for t in _shipments(case, lot.id) if t.shipper == p.processor)


def _certified(
    certificates: list[Certificate], when: datetime
) -> tuple[Certificate | None, Certificate | None]:
    """The latest certificate valid on `when`, else the latest one revoked by then (or None)."""
    valid = [c for c in certificates if c.valid_on(when)]
    revoked = [c for c in certificates if c.revoked_at is not None and c.revoked_at <= when]
    return (valid[-1] if valid else None), (revoked[-1] if revoked else None)


def _lot_certificates(case: CaseFile, lot: Lot, shipments: list[Transfer]) -> list[Certificate]:
    found = {c.id: c for c in case.certificates if c.lot_id == lot.id}
    found.update({c.id: c for t in shipments for c in certificates_of(case, t)})
    return sorted(found.values(), key=lambda c: (c.issued_at, c.id))


@dataclass(frozen=True)
class Claim:
    """A processing's output lot claiming a status (by-product, end-of-waste), with what the ledger shows of
    its use and of its certificate on each dispatch date: failures, missing evidence, certificates relied on."""

    processing: Processing
    lot: Lot
    shipments: list[Transfer]
    failures: list[str]
    missing: list[str]
    certificates: list[Certificate]

    def verdict(self, judge: Judge, passed: str) -> Finding:
        return _verdict(
            judge,
            f"lot {self.lot.id}",
            self.failures,
            self.missing,
            passed,
            self.processing.evidence,
            self.lot.evidence,
            *(t.evidence for t in self.shipments),
            *(c.evidence for c in self.certificates),
        )

    def taken(self, case: CaseFile) -> str:
        """Who took it, when, for what; and the certificates valid on each dispatch."""
        users = ", ".join(
            # A receipt (or rejection) records received_quantity and received_at together.
            f"{case.name(t.receiver)} on {day(t.received_at)} for {t.operation}"  # type: ignore[arg-type]
            for t in self.shipments
            if t.received_quantity
        )
        return f"taken by {users}, with certificate {', '.join(sorted({c.id for c in self.certificates}))}"


ClaimCheck = Callable[[CaseFile, Judge, Claim], Finding]


def _claim_check(
    rule_id: str, claims: Callable[[CaseFile], Iterator[tuple[Processing, str, Lot | None]]], condition: str
) -> Callable[[ClaimCheck], ClaimCheck]:
    """Registers a check that judges each claim `claims` finds, after what every claim needs: a user took the
    lot, and a certificate valid on each dispatch date (or today, if unshipped) shows `condition`."""

    def register(judge_one: ClaimCheck) -> ClaimCheck:
        @check(rule_id)
        def each_claim(case: CaseFile, judge: Judge) -> Iterator[Finding]:
            found = list(claims(case))
            if found:
                use_every_parameter(judge)
            for p, lot_id, lot in found:
                if lot is None:
                    yield judge.inconclusive(
                        f"lot {lot_id}",
                        f"this output lot of processing {p.id} is not in the case file",
                        p.evidence,
                    )
                else:
                    yield judge_one(case, judge, _claim(case, p, lot, condition))

        return judge_one

    return register


def _claim(case: CaseFile, p: Processing, lot: Lot, condition: str) -> Claim:
    shipments = _shipments(case, lot.id)
    failures, missing, relied = [], [], []
    if not shipments:
        missing.append("no transfer to a user is recorded, and the ledger holds no contract for its use")
    elif not any(t.received_quantity for t in shipments):
        if all(t.status == "rejected" for t in shipments):
            failures.append("every receiver rejected it, so no use or demand for it is shown")
        else:
            missing.append("no user has received it yet")
    certificates = _lot_certificates(case, lot, shipments)
    for when in [t.dispatched_at for t in shipments] or [case.evaluation_date]:
        valid, revoked = _certified(certificates, when)
        if valid is not None:
            relied.append(valid)
        elif revoked is not None:
            # _certified returns as revoked only a certificate with a revoked_at.
            failures.append(f"its certificate {revoked.id} was revoked on {day(revoked.revoked_at)}")  # type: ignore[arg-type]
        else:
            missing.append(f"no certificate of analysis valid on {day(when)} shows that {condition}")
    return Claim(p, lot, shipments, failures, missing, relied)


def _verdict(
    judge: Judge, where: str, failures: list[str], missing: list[str], passed: str, *evidence: Evidence
) -> Finding:
    # A lot shipped several times may miss the same thing on each dispatch date: say it once.
    if failures:
        return judge.failed(where, "; ".join(dict.fromkeys(failures + missing)), *evidence)
    if missing:
        return judge.inconclusive(where, "; ".join(dict.fromkeys(missing)), *evidence)
    return judge.passed(where, passed, *evidence)


@_claim_check(
    "EU-BP-01",
    lambda case: _outputs(case, "by_product"),
    "it meets the product, environmental and health requirements of its use (Art. 5(1)(d))",
)
def by_product_conditions(case: CaseFile, judge: Judge, claim: Claim) -> Finding:
    """A lot declared a by-product meets the four cumulative conditions of Art. 5(1) on the ledger's
    evidence: produced by a production process, not a treatment of others' waste (c); taken by a user (a);
    sent for a direct use, not disposal, storage or preparation for another recovery (b); certified on each
    dispatch date (d); and stored no longer than a contract may justify (Brady)."""
    p, shipments = claim.processing, claim.shipments
    received = [i.lot_id for i in p.inputs if (held := case.lot(i.lot_id)) and held.origin == "received"]
    if p.inputs and len(received) == len(p.inputs) and not p.external_grams:
        claim.failures.insert(
            0,
            f"processing {p.id} only treated waste received from others (lots {', '.join(received)}): what it "
            "yields is waste until it meets end-of-waste criteria (Art. 6), not a by-product of production",
        )
    not_direct = judge.param("waste_operations")
    for t in shipments:
        if t.operation in not_direct:
            claim.failures.append(
                f"transfer {t.id} sent it to {case.name(t.receiver)} for {t.operation}, not for a direct use "
                "(Art. 5(1)(b))"
            )
    limit = judge.param("max_storage_days")
    stored_until = shipments[0].dispatched_at if shipments else case.evaluation_date
    stored = days(claim.lot.created_at, stored_until)
    if stored > limit:
        when = "before its first dispatch" if shipments else f"by {day(stored_until)}, still unshipped"
        claim.failures.append(
            f"it was stored {stored} days {when}, longer than the {limit} days a contract may justify "
            "(C-113/12 Brady)"
        )
    return claim.verdict(
        judge,
        f"a by-product of processing {p.id}, stored {stored} days (at most {limit}), {claim.taken(case)} valid "
        "on each dispatch: the conditions of Art. 5(1) hold on the ledger's evidence",
    )


@_claim_check(
    "EU-EOW-01",
    _recovered_products,
    "it meets the technical requirements and product law for its use (Art. 6(1)(c))",
)
def end_of_waste_conditions(case: CaseFile, judge: Judge, claim: Claim) -> Finding:
    """A product made from waste lots meets Art. 6(1): it underwent recovery (no input came for disposal),
    a user took it (a specific use, a market or demand), a certificate shows it meets technical
    requirements and product law, and criteria exist for it: the EU regulations for iron and steel scrap
    and glass cullet (judged by their own rules), otherwise national criteria or a case-by-case decision."""
    for source in _sources(case, claim.processing):
        if source.operation.startswith("D"):
            claim.failures.insert(
                0, f"its input came on transfer {source.id} for disposal ({source.operation}), not recovery"
            )
    code = case.code(claim.lot.code_key)
    label = code.label if code else claim.lot.code_key
    if code is not None and code.code in judge.param("iron_steel_codes"):
        criteria = "the criteria of Reg. (EU) 333/2011 are judged under EU-EOW-FE-01 to 03"
    elif code is not None and code.code in judge.param("glass_codes"):
        criteria = "the criteria of Reg. (EU) 1179/2012 are judged under EU-EOW-GL-01"
    else:
        criteria = ""
        claim.missing.append(
            f"no EU end-of-waste criteria cover {label}, and the ledger holds neither national criteria nor a "
            "case-by-case decision for it (Art. 6(3)-(4))"
        )
    return claim.verdict(
        judge,
        f"{label} recovered by processing {claim.processing.id}, {claim.taken(case)} valid on each dispatch: "
        f"Art. 6(1)(a)-(c) hold; {criteria}",
    )


def _sources(case: CaseFile, p: Processing) -> list[Transfer]:
    """The transfers whose receipt opened the processing's input lots."""
    lots = [case.lot(i.lot_id) for i in p.inputs]
    found = [case.transfer(lot.source_transfer) for lot in lots if lot is not None and lot.source_transfer]
    return [t for t in found if t is not None]


def _results(certificate: Certificate) -> dict[str, int]:
    return dict(certificate.results or ())


def _revoked(certificate: Certificate, t: Transfer) -> bool:
    return certificate.revoked_at is not None and certificate.revoked_at <= t.dispatched_at


ConsignmentCheck = Callable[[CaseFile, Judge, Transfer, Lot, WasteCode], Finding]


def _consignment_check(rule_id: str) -> Callable[[ConsignmentCheck], ConsignmentCheck]:
    """Registers a check that judges each consignment of an end-of-waste product coded in its rule's
    `codes`."""

    def register(judge_one: ConsignmentCheck) -> ConsignmentCheck:
        @check(rule_id)
        def each_consignment(case: CaseFile, judge: Judge) -> Iterator[Finding]:
            found = list(_consignments(case, judge.param("codes")))
            if found:
                use_every_parameter(judge)
            for t, lot, code in found:
                yield judge_one(case, judge, t, lot, code)

        return judge_one

    return register


@_consignment_check("EU-EOW-FE-01")
def iron_steel_scrap_quality(case: CaseFile, judge: Judge, t: Transfer, lot: Lot, code: WasteCode) -> Finding:
    """Each consignment of iron and steel scrap: foreign materials within the limit by the latest analysis
    before dispatch, that analysis no older than the sampling interval, and a radioactivity certificate
    attached to the consignment (Annex I 1.2, 1.5 and their self-monitoring)."""
    limit, interval = judge.param("foreign_materials_max"), judge.param("analysis_interval_months")
    failures, missing, evidence, analysis = [], [], [t.evidence, lot.evidence], ""
    usable = [c for c in certificates_of(case, t) if c.issued_at <= t.dispatched_at and not _revoked(c, t)]
    analyses = [c for c in usable if FOREIGN_MATERIALS in _results(c)]
    if not analyses:
        missing.append(
            f"no analysis of foreign materials in {code.label} before its dispatch on {day(t.dispatched_at)}"
        )
    else:
        latest = analyses[-1]
        share = _results(latest)[FOREIGN_MATERIALS]
        evidence.append(latest.evidence)
        analysis = f"{share:,} ppm of foreign materials by certificate {latest.id} of {day(latest.issued_at)}"
        if share > limit:
            failures.append(f"{analysis}, above the {limit:,} ppm limit")
        if add_months(latest.issued_at, interval) < t.dispatched_at:
            failures.append(
                f"the last foreign-material analysis ({latest.id}, {day(latest.issued_at)}) is more than "
                f"{interval} months before the dispatch on {day(t.dispatched_at)}"
            )
    radiation = [c for c in usable if c.id in t.certificates and RADIOACTIVITY in _results(c)]
    if radiation:
        evidence.append(radiation[-1].evidence)
    else:
        missing.append("no radioactivity certificate is attached to this consignment")
    return _verdict(
        judge,
        subject(t),
        failures,
        missing,
        f"{analysis} (at most {limit:,} ppm, within {interval} months of dispatch); radioactivity certificate "
        f"{radiation[-1].id if radiation else ''} for this consignment; grading and visual inspection are "
        "declared in the statement of conformity (EU-EOW-FE-02)",
        *evidence,
    )


@_consignment_check("EU-EOW-FE-02")
def iron_steel_statement_of_conformity(
    case: CaseFile, judge: Judge, t: Transfer, lot: Lot, code: WasteCode
) -> Finding:
    """The producer's statement of conformity for each consignment (Art. 5) is a document the ledger does
    not hold: every consignment is inconclusive until it does."""
    return judge.inconclusive(
        subject(t),
        f"the statement of conformity that {case.name(t.shipper)} must issue for this consignment of "
        f"{code.label} and pass to {case.name(t.receiver)} is not in the ledger; it is to be kept at least "
        f"{judge.param('retention_months')} months",
        t.evidence,
    )


@_consignment_check("EU-EOW-FE-03")
def iron_steel_quality_management(
    case: CaseFile, judge: Judge, t: Transfer, lot: Lot, code: WasteCode
) -> Finding:
    """The producer's quality management system and its verification by an accredited verifier (Art. 6)
    are not in the ledger: every consignment is inconclusive until they are."""
    return judge.inconclusive(
        subject(t),
        f"the quality management system of {case.name(t.shipper)}, producer of this consignment of "
        f"{code.label}, and its verification by an accredited verifier (every "
        f"{judge.param('verification_interval_months')} months) valid on {day(t.dispatched_at)} are not in the "
        "ledger",
        t.evidence,
    )


GLASS_COMPONENTS = (FERROUS, NON_FERROUS, INORGANICS, ORGANICS)


@_consignment_check("EU-EOW-GL-01")
def glass_cullet_quality(case: CaseFile, judge: Judge, t: Transfer, lot: Lot, code: WasteCode) -> Finding:
    """Each consignment of glass cullet: a certificate valid on dispatch reports non-glass components within
    Annex I 1.2's limits; non-metal non-glass inorganics have a stricter limit for cullet over 1 mm."""
    valid = [c for c in certificates_of(case, t) if c.valid_on(t.dispatched_at)]
    reporting = [c for c in valid if set(_results(c)) & set(GLASS_COMPONENTS)]
    if not reporting:
        return judge.inconclusive(
            subject(t),
            f"no certificate valid on {day(t.dispatched_at)} reports the non-glass components of this "
            f"consignment of {code.label}",
            t.evidence,
            lot.evidence,
        )
    certificate = reporting[-1]
    results = _results(certificate)
    absent = [name for name in (*GLASS_COMPONENTS, CULLET_SIZE) if name not in results]
    if absent:
        return judge.inconclusive(
            subject(t),
            f"certificate {certificate.id} does not report {', '.join(absent)}",
            certificate.evidence,
        )
    size = results[CULLET_SIZE]
    fine = size <= judge.param("fine_size_max_um")
    limits = [  # (component, its result, inclusive?, limit)
        ("ferrous metals", results[FERROUS], True, judge.param("ferrous_metals_max")),
        ("non-ferrous metals", results[NON_FERROUS], True, judge.param("non_ferrous_metals_max")),
        (
            f"non-metal non-glass inorganics (cullet of {size:,} um)",
            results[INORGANICS],
            False,
            judge.param("inorganics_fine_below" if fine else "inorganics_coarse_below"),
        ),
        ("organics", results[ORGANICS], True, judge.param("organics_max")),
    ]
    over = [
        f"{name} {value:,} ppm, not {'at most' if inclusive else 'below'} {limit:,} ppm"
        for name, value, inclusive, limit in limits
        if value > limit or (value == limit and not inclusive)
    ]
    within = ", ".join(
        f"{name} {value:,} ppm ({'at most' if inclusive else 'below'} {limit:,})"
        for name, value, inclusive, limit in limits
    )
    where = f"certificate {certificate.id} of {day(certificate.issued_at)}"
    if over:
        return judge.failed(subject(t), f"{where}: {'; '.join(over)}", t.evidence, certificate.evidence)
    return judge.passed(subject(t), f"{where}: {within}", t.evidence, certificate.evidence)


@transfer_check("EU-LOW-01", EU_LOW, LIST_OF_WASTE)
def list_of_waste_entry(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """Each transfer's code is a six-digit List of Waste entry, hazardous exactly when asterisked; the
    non-hazardous entry of a mirror pair needs an assessment of hazardous properties, shown by a certificate
    of analysis valid on the dispatch date."""
    entry = code.code.strip()
    asterisked = entry.endswith("*")
    if not LOW_ENTRY.fullmatch(entry):
        return judge.failed(
            subject(t), f"{code.label} is not a six-digit List of Waste entry", t.evidence, code.evidence
        )
    if asterisked != code.hazardous:
        listed = "an asterisked (hazardous)" if asterisked else "a non-asterisked (non-hazardous)"
        registered = "hazardous" if code.hazardous else "non-hazardous"
        return judge.failed(
            subject(t),
            f"{code.label} is {listed} entry, but is registered as {registered}",
            t.evidence,
            code.evidence,
        )
    mirrors = {}  # the non-hazardous entry's digits -> the hazardous entry it mirrors
    for pair in judge.param("mirror_pairs"):
        hazardous, other = pair.split("/")
        mirrors[_digits(other)] = hazardous.strip()
    mirror = mirrors.get(_digits(entry))
    if mirror is None:
        kind = "hazardous" if code.hazardous else "non-hazardous"
        return judge.passed(
            subject(t), f"{code.label} is a six-digit entry, {kind} as the List of Waste marks it", t.evidence
        )
    valid, _ = _certified(certificates_of(case, t), t.dispatched_at)
    if valid is None:
        return judge.failed(
            subject(t),
            f"{code.label} is the non-hazardous entry mirroring {mirror}: choosing it needs an assessment of "
            f"hazardous properties, and no certificate of analysis of lot {t.lot_id} was valid on "
            f"{day(t.dispatched_at)}",
            t.evidence,
            code.evidence,
        )
    return judge.passed(
        subject(t),
        f"{code.label}, the non-hazardous entry mirroring {mirror}, chosen on the assessment of "
        f"certificate {valid.id} of {day(valid.issued_at)}",
        t.evidence,
        valid.evidence,
    )


def _digits(entry: str) -> str:
    return re.sub(r"\D", "", entry)


@transfer_check("EU-REC-01", EU_LOW, LIST_OF_WASTE)
def chronological_record(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """Each transfer's record holds what Art. 35(1) lists: quantity, nature (its code, the same as its lot's),
    origin (the lot it left), destination, treatment operation and mode of transport, dated in order."""
    lot = case.lot(t.lot_id)
    missing = [
        f"the {role} {address} is not in the case file"
        for role, address in (("shipper", t.shipper), ("receiver", t.receiver))
        if case.party(address) is None
    ]
    if lot is None:
        missing.append(f"lot {t.lot_id}, the origin of the waste, is not in the case file")
    failures = []
    if t.quantity <= 0:
        failures.append("it records no quantity")
    if not t.operation and t.return_of is None:
        failures.append("it names no treatment operation")
    if lot is not None and lot.code_key != t.code_key:
        held = case.code(lot.code_key)
        failures.append(f"it names {code.label}, but its lot holds {held.label if held else lot.code_key}")
    if t.received_at is not None and t.received_at < t.dispatched_at:
        failures.append(
            f"its receipt ({day(t.received_at)}) is dated before its dispatch ({day(t.dispatched_at)})"
        )
    return _verdict(
        judge,
        subject(t),
        failures,
        missing,
        _record(case, t, code, lot),
        t.evidence,
        *((lot.evidence,) if lot else ()),
    )


def _record(case: CaseFile, t: Transfer, code: WasteCode, lot: Lot | None) -> str:
    if lot is None or lot.origin == "produced":
        origin = f"produced by {case.name(t.shipper)}"
    elif lot.origin == "received":
        origin = f"received on transfer {lot.source_transfer}"
    else:
        origin = f"generated by {case.name(lot.generator or lot.holder)}"
    carriage = (
        f"carried by {', '.join(case.name(a) for a in t.transporters)}"
        if t.transporters
        else "with no carrier"
    )
    treatment = f"for {t.operation}" if t.operation else f"returning rejected transfer {t.return_of}"
    received = f", received on {day(t.received_at)}" if t.received_at else ""
    return (
        f"{amount(t.quantity, code)} of {code.label} {code.description}, {origin}, from {case.name(t.shipper)} to "
        f"{case.name(t.receiver)} {treatment}, {carriage}, dispatched on {day(t.dispatched_at)}{received}"
    )


@transfer_check("EU-REC-02", EU_LOW, LIST_OF_WASTE)
def records_retained(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """A hazardous waste transfer's record is kept for the years Art. 35(2) sets from its last custody
    event (its transporters keep theirs for a shorter time, which that period covers)."""
    if not code.hazardous:
        return judge.not_applicable(
            subject(t),
            f"{code.label} is not hazardous: Art. 35(2) sets retention for hazardous waste",
            t.evidence,
        )
    months, carriers = judge.param("hazardous_waste_months"), judge.param("transporter_months")
    last = max([t.dispatched_at, *(s.recorded_at for s in t.signatures)])
    basis = f"{months} months from {day(last)} for its producer and receiver"
    if t.transporters:
        basis += f", {carriers} for its transporters"
    return kept(case, judge, t, last, months, basis)
