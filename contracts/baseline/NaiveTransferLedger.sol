// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IPermitRegistry} from "../interfaces/IPermitRegistry.sol";

/**
 * @title NaiveTransferLedger
 * @notice BENCHMARK BASELINE ONLY: never deployed, never used by the service. It exists so that the gas
 * test (tests/contracts/test_gas.py) can compare SymbiosisLedger, in the same run, with the common
 * straightforward way of writing the same ledger.
 *
 * It does the same custody job as SymbiosisLedger with the same statements (RegisterLot, IssueCertificate,
 * RevokeCertificate, Dispatch, Receipt, with the same EIP-712 type strings), the same signature checks
 * (OpenZeppelin EIP712 and SignatureChecker) and the same participant, accreditation, permit and transporter
 * checks through the same registries (a dispatch's transporters: each other than the shipper an active
 * TRANSPORTER, for a hazardous code each holding a valid transport licence covering it; as many licence
 * entries as transporters, at most 8). It records the carriage legs (PickUp, Delivery), rejections with their
 * return transfers (Rejection: to the shipper, or to another receiver whose permit is checked as a dispatch's)
 * and agreed corrections (Correction, proposed by one party and countersigned by the other, then moving the
 * lots by its deltas) with the same statements and statuses as SymbiosisLedger. Having stored the shipper,
 * the lot and the transporters with each transfer, it needs no dispatch encoding nor transporter list with
 * those statements. What differs is the storage design, deliberately the naive one: every record
 * is kept in full as a struct with strings and uint256 fields (a lot with its scheme, code and unit; a
 * certificate with every field of its statement and timestamps; a transfer with every dispatch field,
 * its cited certificates, its status, the received quantity and timestamps), the waste code is looked up
 * again from its strings at each dispatch, a cited certificate is looked up by its id and its lot compared,
 * replays are stopped by sequential per-signer nonces in storage (OpenZeppelin Nonces), and capacity is
 * kept per permit per calendar year. Its certificates are its own (a certificate names a lot, and the
 * baseline's lots are its own), checked as SymbiosisLedger checks its. Each leg is a struct (transporter,
 * licence, both statements' deadlines and times), each rejection a struct with its reason and return terms,
 * its return a transfer record like a dispatch's, each correction a struct with its reason and its state.
 * Its processing baseline (NaiveProcessing) takes input quantities from these lots through `takeFromLot`.
 */
contract NaiveTransferLedger is EIP712, Nonces {
    uint16 private constant _SHIPPER = 1 << 2;
    uint16 private constant _RECEIVER = 1 << 3;
    uint16 private constant _TRANSPORTER = 1 << 4;
    uint16 private constant _LAB = 1 << 5;
    uint256 private constant _MAX_LEGS = 8;

    /// @dev As SymbiosisLedger's TransferStatus.
    enum Status {
        None,
        Dispatched,
        AwaitingPickUp,
        InTransit,
        Delivered,
        Received,
        PartiallyRejected,
        Rejected,
        Returning
    }

    enum CorrectionStatus {
        None,
        Proposed,
        Countersigned
    }

    struct LotRecord {
        bytes32 id;
        address generator;
        address holder;
        string wasteScheme;
        string wasteCode;
        string unit;
        uint256 quantity;
        uint256 balance;
        bytes32 documentHash;
        uint256 createdAt;
    }

    struct CertificateRecord {
        bytes32 id;
        address lab;
        bytes32 lotId;
        bytes32 accreditationId;
        bytes32 documentHash;
        bytes32 resultsHash;
        uint256 validUntil;
        uint256 issuedAt;
        bool revoked;
        string revocationReason;
        uint256 revokedAt;
    }

    struct TransferRecord {
        bytes32 id;
        address shipper;
        address receiver;
        bytes32 lotId;
        uint256 quantity;
        string operation;
        bytes32 permitId;
        bytes32[] certificates;
        address[] transporters;
        bytes32[] licences;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
        Status status;
        uint256 receivedQuantity;
        uint256 dispatchedAt;
        uint256 receivedAt;
    }

    struct LegRecord {
        bytes32 transferId;
        uint256 leg;
        address transporter;
        bytes32 licence;
        uint256 pickUpDeadline;
        uint256 pickedUpAt;
        uint256 deliveryDeadline;
        uint256 deliveredAt;
    }

    struct RejectionRecord {
        bytes32 transferId;
        address receiver;
        uint256 shippedQuantity;
        uint256 acceptedQuantity;
        uint256 rejectedQuantity;
        string reason;
        address returnTo;
        bytes32 returnPermitId;
        string returnOperation;
        bytes32 returnId;
        uint256 deadline;
        uint256 rejectedAt;
    }

    struct CorrectionRecord {
        bytes32 id;
        bytes32 transferId;
        address proposer;
        address counterparty;
        int256 shippedDelta;
        int256 receivedDelta;
        bytes32 documentHash;
        string reason;
        uint256 nonce;
        uint256 deadline;
        CorrectionStatus status;
        uint256 proposedAt;
        uint256 countersignedAt;
    }

    /// @dev The same statements as SymbiosisLedger's.
    struct LotRegistration {
        address generator;
        string wasteScheme;
        string wasteCode;
        uint64 quantity;
        string unit;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct Issuance {
        address lab;
        bytes32 lotId;
        bytes32 accreditationId;
        bytes32 documentHash;
        bytes32 resultsHash;
        uint64 validUntil;
        uint256 nonce;
        uint256 deadline;
    }

    struct CertificateRevocation {
        address lab;
        bytes32 certificateId;
        bytes32 lotId;
        string reason;
        uint256 nonce;
        uint256 deadline;
    }

    struct Dispatch {
        address shipper;
        address receiver;
        bytes32 lotId;
        uint64 quantity;
        string operation;
        bytes32 permitId;
        bytes32[] certificates;
        address[] transporters;
        bytes32[] licences;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    struct Receipt {
        bytes32 transferId;
        address receiver;
        uint64 receivedQuantity;
        uint256 deadline;
    }

    struct Leg {
        bytes32 transferId;
        address transporter;
        uint8 leg;
        uint256 deadline;
    }

    struct Rejection {
        bytes32 transferId;
        address receiver;
        uint64 acceptedQuantity;
        uint64 rejectedQuantity;
        string reason;
        address returnTo;
        bytes32 returnPermitId;
        string returnOperation;
        uint256 deadline;
    }

    struct Correction {
        bytes32 transferId;
        address proposer;
        int64 shippedDelta;
        int64 receivedDelta;
        bytes32 documentHash;
        string reason;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 private constant _REGISTER_LOT_TYPEHASH = keccak256(
        "RegisterLot(address generator,string wasteScheme,string wasteCode,uint64 quantity,string unit,"
        "bytes32 documentHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _ISSUE_CERTIFICATE_TYPEHASH = keccak256(
        "IssueCertificate(address lab,bytes32 lotId,bytes32 accreditationId,bytes32 documentHash,"
        "bytes32 resultsHash,uint64 validUntil,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _REVOKE_CERTIFICATE_TYPEHASH = keccak256(
        "RevokeCertificate(address lab,bytes32 certificateId,bytes32 lotId,string reason,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _DISPATCH_TYPEHASH = keccak256(
        "Dispatch(address shipper,address receiver,bytes32 lotId,uint64 quantity,string operation,"
        "bytes32 permitId,bytes32[] certificates,address[] transporters,bytes32[] licences,bytes32 documentHash,"
        "uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 transferId,address receiver,uint64 receivedQuantity,uint256 deadline)");

    bytes32 private constant _PICK_UP_TYPEHASH =
        keccak256("PickUp(bytes32 transferId,address transporter,uint8 leg,uint256 deadline)");
    bytes32 private constant _DELIVERY_TYPEHASH =
        keccak256("Delivery(bytes32 transferId,address transporter,uint8 leg,uint256 deadline)");
    bytes32 private constant _REJECTION_TYPEHASH = keccak256(
        "Rejection(bytes32 transferId,address receiver,uint64 acceptedQuantity,uint64 rejectedQuantity,"
        "string reason,address returnTo,bytes32 returnPermitId,string returnOperation,uint256 deadline)"
    );
    bytes32 private constant _CORRECTION_TYPEHASH = keccak256(
        "Correction(bytes32 transferId,address proposer,int64 shippedDelta,int64 receivedDelta,bytes32 documentHash,"
        "string reason,uint256 nonce,uint256 deadline)"
    );

    IParticipantRegistry public immutable participants;
    IPermitRegistry public immutable permits;

    mapping(bytes32 => LotRecord) public lots;
    mapping(bytes32 => CertificateRecord) public certificates;
    mapping(bytes32 => TransferRecord) private _transfers;
    mapping(bytes32 => mapping(uint256 => uint256)) public capacityUsed;
    mapping(bytes32 => mapping(uint256 => LegRecord)) private _legs;
    mapping(bytes32 => RejectionRecord) private _rejections;
    mapping(bytes32 => CorrectionRecord) private _corrections;
    address public processingModule;
    address private immutable _deployer;

    event LotGenerated(
        bytes32 indexed lotId, address indexed generator, bytes32 indexed codeKey, uint64 quantity, bytes32 documentHash
    );
    event CertificateIssued(
        bytes32 indexed certificateId,
        bytes32 indexed lotId,
        address indexed lab,
        bytes32 accreditationId,
        bytes32 documentHash,
        bytes32 resultsHash,
        uint64 validUntil
    );
    event CertificateRevoked(bytes32 indexed certificateId, bytes32 indexed lotId, address indexed lab, string reason);
    event TransferDispatched(
        bytes32 indexed transferId,
        address indexed shipper,
        address indexed receiver,
        bytes32 lotId,
        uint64 quantity,
        uint8 operation,
        bytes32 permitId,
        bytes32[] certificates,
        bytes32 documentHash
    );
    event TransferCarried(bytes32 indexed transferId, address[] transporters, bytes32[] licences);
    event TransferReceived(
        bytes32 indexed transferId, address indexed receiver, uint64 receivedQuantity, uint64 shippedQuantity
    );
    event LegPickedUp(bytes32 indexed transferId, address indexed transporter, uint8 leg);
    event LegDelivered(bytes32 indexed transferId, address indexed transporter, uint8 leg);
    event TransferRejected(
        bytes32 indexed transferId,
        address indexed receiver,
        uint64 acceptedQuantity,
        uint64 rejectedQuantity,
        uint64 shippedQuantity,
        string reason
    );
    event TransferReturned(
        bytes32 indexed returnId,
        bytes32 indexed transferId,
        address indexed returnTo,
        uint64 quantity,
        bytes32 permitId,
        uint8 operation
    );
    event CorrectionProposed(
        bytes32 indexed correctionId,
        bytes32 indexed transferId,
        address indexed proposer,
        address counterparty,
        int64 shippedDelta,
        int64 receivedDelta,
        bytes32 documentHash,
        string reason
    );
    event TransferCorrected(bytes32 indexed correctionId, bytes32 indexed transferId, address indexed counterparty);

    error Refused(string reason);

    constructor(IParticipantRegistry participants_, IPermitRegistry permits_) EIP712("Naive Transfer Ledger", "1") {
        participants = participants_;
        permits = permits_;
        _deployer = msg.sender;
    }

    /// @notice A transfer's status and quantities (shipped, received or accepted), as stored.
    function transfer(bytes32 transferId)
        external
        view
        returns (Status status, uint256 quantity, uint256 receivedQuantity)
    {
        TransferRecord storage t = _transfers[transferId];
        return (t.status, t.quantity, t.receivedQuantity);
    }

    /// @notice Names the processing baseline, once, the only caller of `takeFromLot`.
    function setProcessingModule(address module) external {
        _require(msg.sender == _deployer && processingModule == address(0), "not allowed");
        processingModule = module;
    }

    /// @notice The processing baseline takes `quantity` of a lot `holder` holds; returns the lot's code and unit.
    function takeFromLot(bytes32 lotId, address holder, uint256 quantity)
        external
        returns (string memory wasteScheme, string memory wasteCode, string memory unit)
    {
        _require(msg.sender == processingModule && processingModule != address(0), "not the processing module");
        _require(quantity > 0 && quantity <= type(uint56).max, "quantity");
        LotRecord storage lot = lots[lotId];
        _require(lot.holder != address(0), "unknown lot");
        _require(lot.holder == holder, "not lot holder");
        _require(lot.balance >= quantity, "insufficient lot balance");
        lot.balance -= quantity;
        return (lot.wasteScheme, lot.wasteCode, lot.unit);
    }

    function registerLot(LotRegistration calldata r, bytes calldata signature) external returns (bytes32 lotId) {
        _require(r.quantity > 0 && r.quantity <= type(uint56).max, "quantity");
        participants.requireActive(r.generator, _SHIPPER);
        bytes32 codeKey = keccak256(abi.encode(keccak256(bytes(r.wasteScheme)), keccak256(bytes(r.wasteCode))));
        IPermitRegistry.WasteCode memory code = permits.wasteCode(codeKey);
        _require(keccak256(bytes(r.unit)) == _unitHash(code.unit), "unit");
        _useCheckedNonce(r.generator, r.nonce);
        bytes32 structHash = keccak256(
            abi.encode(
                _REGISTER_LOT_TYPEHASH,
                r.generator,
                keccak256(bytes(r.wasteScheme)),
                keccak256(bytes(r.wasteCode)),
                r.quantity,
                keccak256(bytes(r.unit)),
                r.documentHash,
                r.nonce,
                r.deadline
            )
        );
        lotId = _verify(r.generator, structHash, r.deadline, signature);

        lots[lotId] = LotRecord({
            id: lotId,
            generator: r.generator,
            holder: r.generator,
            wasteScheme: r.wasteScheme,
            wasteCode: r.wasteCode,
            unit: r.unit,
            quantity: r.quantity,
            balance: r.quantity,
            documentHash: r.documentHash,
            createdAt: block.timestamp
        });
        emit LotGenerated(lotId, r.generator, codeKey, r.quantity, r.documentHash);
    }

    function issueCertificate(Issuance calldata c, bytes calldata signature) external returns (bytes32 certificateId) {
        _require(c.validUntil > block.timestamp && c.validUntil <= type(uint40).max, "certificate validity passed");
        participants.requireActive(c.lab, _LAB);
        IPermitRegistry.PermitTerms memory terms = permits.permitTerms(c.accreditationId, 0);
        _require(
            terms.holder == c.lab && terms.kind == IPermitRegistry.PermitKind.LabAccreditation && !terms.revoked
                && block.timestamp >= terms.validFrom && block.timestamp <= terms.validUntil,
            "not accredited"
        );
        _require(lots[c.lotId].holder != address(0), "unknown lot");
        _useCheckedNonce(c.lab, c.nonce);
        bytes32 structHash = keccak256(
            abi.encode(
                _ISSUE_CERTIFICATE_TYPEHASH,
                c.lab,
                c.lotId,
                c.accreditationId,
                c.documentHash,
                c.resultsHash,
                c.validUntil,
                c.nonce,
                c.deadline
            )
        );
        certificateId = _verify(c.lab, structHash, c.deadline, signature);

        certificates[certificateId] = CertificateRecord({
            id: certificateId,
            lab: c.lab,
            lotId: c.lotId,
            accreditationId: c.accreditationId,
            documentHash: c.documentHash,
            resultsHash: c.resultsHash,
            validUntil: c.validUntil,
            issuedAt: block.timestamp,
            revoked: false,
            revocationReason: "",
            revokedAt: 0
        });
        emit CertificateIssued(
            certificateId, c.lotId, c.lab, c.accreditationId, c.documentHash, c.resultsHash, c.validUntil
        );
    }

    function revokeCertificate(CertificateRevocation calldata r, bytes calldata signature) external {
        CertificateRecord storage c = certificates[r.certificateId];
        _require(c.lab != address(0) && c.lotId == r.lotId, "certificate not for lot");
        _require(c.lab == r.lab, "not issuing lab");
        _require(!c.revoked, "certificate revoked");
        _useCheckedNonce(r.lab, r.nonce);
        bytes32 structHash = keccak256(
            abi.encode(
                _REVOKE_CERTIFICATE_TYPEHASH,
                r.lab,
                r.certificateId,
                r.lotId,
                keccak256(bytes(r.reason)),
                r.nonce,
                r.deadline
            )
        );
        _verify(r.lab, structHash, r.deadline, signature);

        c.revoked = true;
        c.revocationReason = r.reason;
        c.revokedAt = block.timestamp;
        emit CertificateRevoked(r.certificateId, r.lotId, r.lab, r.reason);
    }

    function dispatchBatch(Dispatch[] calldata dispatches, bytes[] calldata signatures)
        external
        returns (bytes32[] memory transferIds)
    {
        transferIds = new bytes32[](dispatches.length);
        for (uint256 i = 0; i < dispatches.length; i++) {
            try this.dispatch(dispatches[i], signatures[i]) returns (bytes32 transferId) {
                transferIds[i] = transferId;
            } catch {}
        }
    }

    function dispatch(Dispatch calldata d, bytes calldata signature) public returns (bytes32 transferId) {
        _require(d.quantity > 0 && d.quantity <= type(uint56).max, "quantity");
        _require(d.shipper != d.receiver, "self transfer");
        participants.requireActive(d.shipper, _SHIPPER);
        participants.requireActive(d.receiver, _RECEIVER);
        LotRecord storage source = lots[d.lotId];
        _require(source.holder != address(0), "unknown lot");
        _require(source.holder == d.shipper, "not lot holder");
        _require(source.balance >= d.quantity, "insufficient lot balance");
        _checkCertificates(d);
        _checkPermit(d.permitId, d.receiver, d.operation, d.quantity, source);
        _checkTransporters(d, source);
        _useCheckedNonce(d.shipper, d.nonce);
        transferId = _verify(d.shipper, _hashDispatch(d), d.deadline, signature);

        source.balance -= d.quantity;
        _transfers[transferId] = TransferRecord({
            id: transferId,
            shipper: d.shipper,
            receiver: d.receiver,
            lotId: d.lotId,
            quantity: d.quantity,
            operation: d.operation,
            permitId: d.permitId,
            certificates: d.certificates,
            transporters: d.transporters,
            licences: d.licences,
            documentHash: d.documentHash,
            nonce: d.nonce,
            deadline: d.deadline,
            status: d.transporters.length == 0 ? Status.Dispatched : Status.AwaitingPickUp,
            receivedQuantity: 0,
            dispatchedAt: block.timestamp,
            receivedAt: 0
        });
        emit TransferDispatched(
            transferId,
            d.shipper,
            d.receiver,
            d.lotId,
            d.quantity,
            uint8(_operationBit(d.operation)),
            d.permitId,
            d.certificates,
            d.documentHash
        );
        if (d.transporters.length > 0) emit TransferCarried(transferId, d.transporters, d.licences);
    }

    function confirmReceipt(Receipt calldata r, bytes calldata signature) external {
        TransferRecord storage t = _transfers[r.transferId];
        Status status = t.status;
        _require(
            status == Status.Dispatched || status == Status.Delivered || status == Status.Returning,
            "not awaiting receipt"
        );
        _require(t.receiver == r.receiver, "not named receiver");
        _require(r.receivedQuantity > 0 && r.receivedQuantity <= type(uint56).max, "quantity");
        // A return goes back to its shipper, who needs no RECEIVER role to take back its own lot.
        participants.requireActive(r.receiver, status == Status.Returning ? 0 : _RECEIVER);
        bytes32 structHash =
            keccak256(abi.encode(_RECEIPT_TYPEHASH, r.transferId, r.receiver, r.receivedQuantity, r.deadline));
        _verify(r.receiver, structHash, r.deadline, signature);

        t.status = Status.Received;
        t.receivedQuantity = r.receivedQuantity;
        t.receivedAt = block.timestamp;
        _openLot(r.transferId, t, r.receiver, r.receivedQuantity);
        emit TransferReceived(r.transferId, r.receiver, r.receivedQuantity, uint64(t.quantity));
    }

    function pickUp(Leg calldata l, bytes calldata signature) external {
        TransferRecord storage t = _checkLeg(l, _PICK_UP_TYPEHASH, signature);
        _require(_legs[l.transferId][l.leg].pickedUpAt == 0, "leg out of order");
        if (l.leg > 0) _require(_legs[l.transferId][l.leg - 1].deliveredAt != 0, "leg out of order");

        LegRecord storage leg = _legs[l.transferId][l.leg];
        leg.transferId = l.transferId;
        leg.leg = l.leg;
        leg.transporter = l.transporter;
        leg.licence = t.licences[l.leg];
        leg.pickUpDeadline = l.deadline;
        leg.pickedUpAt = block.timestamp;
        t.status = Status.InTransit;
        emit LegPickedUp(l.transferId, l.transporter, l.leg);
    }

    function deliver(Leg calldata l, bytes calldata signature) external {
        TransferRecord storage t = _checkLeg(l, _DELIVERY_TYPEHASH, signature);
        LegRecord storage leg = _legs[l.transferId][l.leg];
        _require(leg.pickedUpAt != 0 && leg.deliveredAt == 0, "leg out of order");

        leg.deliveryDeadline = l.deadline;
        leg.deliveredAt = block.timestamp;
        if (l.leg + 1 == t.transporters.length) t.status = Status.Delivered;
        emit LegDelivered(l.transferId, l.transporter, l.leg);
    }

    function reject(Rejection calldata r, bytes calldata signature) external returns (bytes32 returnId) {
        TransferRecord storage t = _transfers[r.transferId];
        _require(t.status == Status.Dispatched || t.status == Status.Delivered, "not awaiting receipt");
        _require(t.receiver == r.receiver, "not named receiver");
        _require(r.rejectedQuantity > 0 && r.rejectedQuantity <= type(uint56).max, "nothing rejected");
        _require(r.acceptedQuantity <= type(uint56).max, "quantity");
        participants.requireActive(r.receiver, _RECEIVER);
        uint8 operation = type(uint8).max;
        if (r.returnTo == t.shipper) {
            _require(r.returnPermitId == bytes32(0) && bytes(r.returnOperation).length == 0, "permit on return to shipper");
        } else {
            _require(r.returnTo != r.receiver, "self transfer");
            participants.requireActive(r.returnTo, _RECEIVER);
            _checkPermit(r.returnPermitId, r.returnTo, r.returnOperation, r.rejectedQuantity, lots[t.lotId]);
            operation = uint8(_operationBit(r.returnOperation));
        }
        returnId = _verify(r.receiver, _hashRejection(r), r.deadline, signature);

        t.status = r.acceptedQuantity == 0 ? Status.Rejected : Status.PartiallyRejected;
        t.receivedQuantity = r.acceptedQuantity;
        t.receivedAt = block.timestamp;
        if (r.acceptedQuantity != 0) _openLot(r.transferId, t, r.receiver, r.acceptedQuantity);
        RejectionRecord storage rejection = _rejections[r.transferId];
        rejection.transferId = r.transferId;
        rejection.receiver = r.receiver;
        rejection.shippedQuantity = t.quantity;
        rejection.acceptedQuantity = r.acceptedQuantity;
        rejection.rejectedQuantity = r.rejectedQuantity;
        rejection.reason = r.reason;
        rejection.returnTo = r.returnTo;
        rejection.returnPermitId = r.returnPermitId;
        rejection.returnOperation = r.returnOperation;
        rejection.returnId = returnId;
        rejection.deadline = r.deadline;
        rejection.rejectedAt = block.timestamp;
        emit TransferRejected(
            r.transferId, r.receiver, r.acceptedQuantity, r.rejectedQuantity, uint64(t.quantity), r.reason
        );
        _recordReturn(returnId, t, r);
        emit TransferReturned(returnId, r.transferId, r.returnTo, r.rejectedQuantity, r.returnPermitId, operation);
    }

    function proposeCorrection(Correction calldata c, bytes calldata signature)
        external
        returns (bytes32 correctionId)
    {
        address counterparty = _checkCorrection(c);
        _useCheckedNonce(c.proposer, c.nonce);
        correctionId = _verify(c.proposer, _hashCorrection(c), c.deadline, signature);

        CorrectionRecord storage correction = _corrections[correctionId];
        correction.id = correctionId;
        correction.transferId = c.transferId;
        correction.proposer = c.proposer;
        correction.counterparty = counterparty;
        correction.shippedDelta = c.shippedDelta;
        correction.receivedDelta = c.receivedDelta;
        correction.documentHash = c.documentHash;
        correction.reason = c.reason;
        correction.nonce = c.nonce;
        correction.deadline = c.deadline;
        correction.status = CorrectionStatus.Proposed;
        correction.proposedAt = block.timestamp;
        emit CorrectionProposed(
            correctionId,
            c.transferId,
            c.proposer,
            counterparty,
            c.shippedDelta,
            c.receivedDelta,
            c.documentHash,
            c.reason
        );
    }

    function countersignCorrection(Correction calldata c, bytes calldata signature) external {
        bytes32 structHash = _hashCorrection(c);
        bytes32 correctionId = _hashTypedDataV4(structHash);
        CorrectionRecord storage record = _corrections[correctionId];
        _require(record.status == CorrectionStatus.Proposed, "no pending correction");
        // The transfer may have moved on since the proposal: check again.
        address counterparty = _checkCorrection(c);
        _require(counterparty == record.counterparty, "not the counterparty");
        _verify(counterparty, structHash, c.deadline, signature);

        record.status = CorrectionStatus.Countersigned;
        record.countersignedAt = block.timestamp;
        TransferRecord storage t = _transfers[c.transferId];
        if (c.shippedDelta != 0) {
            // Shipping more takes more from the shipper's lot.
            _moveLot(t.lotId, t.shipper, -int256(c.shippedDelta));
            t.quantity = uint256(int256(t.quantity) + c.shippedDelta);
        }
        if (c.receivedDelta != 0) {
            _moveLot(c.transferId, t.receiver, c.receivedDelta);
            t.receivedQuantity = uint256(int256(t.receivedQuantity) + c.receivedDelta);
        }
        if (c.documentHash != bytes32(0)) t.documentHash = c.documentHash;
        emit TransferCorrected(correctionId, c.transferId, counterparty);
    }

    function _checkLeg(Leg calldata l, bytes32 typehash, bytes calldata signature)
        private
        view
        returns (TransferRecord storage t)
    {
        t = _transfers[l.transferId];
        _require(t.status == Status.AwaitingPickUp || t.status == Status.InTransit, "not in carriage");
        _require(l.leg < t.transporters.length && t.transporters[l.leg] == l.transporter, "not leg transporter");
        participants.requireActive(l.transporter, 0);
        bytes32 structHash = keccak256(abi.encode(typehash, l.transferId, l.transporter, l.leg, l.deadline));
        _verify(l.transporter, structHash, l.deadline, signature);
    }

    /// @dev Returns the party that must countersign the correction.
    function _checkCorrection(Correction calldata c) private view returns (address counterparty) {
        TransferRecord storage t = _transfers[c.transferId];
        _require(t.status != Status.None, "unknown transfer");
        if (c.proposer == t.shipper) counterparty = t.receiver;
        else if (c.proposer == t.receiver) counterparty = t.shipper;
        else revert Refused("not transfer party");
        _require(c.shippedDelta != 0 || c.receivedDelta != 0 || c.documentHash != bytes32(0), "empty correction");
        _require(c.receivedDelta == 0 || _received(t.status), "not received");
        participants.requireActive(c.proposer, 0);
        participants.requireActive(counterparty, 0);
    }

    function _moveLot(bytes32 lotId, address holder, int256 change) private {
        LotRecord storage lot = lots[lotId];
        _require(lot.holder != address(0), "unknown lot");
        _require(lot.holder == holder, "not lot holder");
        if (change > 0) {
            _require(lot.balance + uint256(change) <= type(uint56).max, "quantity");
            lot.balance += uint256(change);
        } else {
            _require(lot.balance >= uint256(-change), "insufficient lot balance");
            lot.balance -= uint256(-change);
        }
    }

    function _received(Status status) private pure returns (bool) {
        return status == Status.Received || status == Status.PartiallyRejected;
    }

    /// @dev Opens the receiver's lot of a transfer, with the source lot's code and unit.
    function _openLot(bytes32 lotId, TransferRecord storage t, address holder, uint256 quantity) private {
        LotRecord storage source = lots[t.lotId];
        LotRecord storage lot = lots[lotId];
        lot.id = lotId;
        lot.generator = source.generator;
        lot.holder = holder;
        lot.wasteScheme = source.wasteScheme;
        lot.wasteCode = source.wasteCode;
        lot.unit = source.unit;
        lot.quantity = quantity;
        lot.balance = quantity;
        lot.documentHash = t.documentHash;
        lot.createdAt = block.timestamp;
    }

    /// @dev The refused quantity's return, recorded like a dispatch (from the source lot, with its document).
    function _recordReturn(bytes32 returnId, TransferRecord storage t, Rejection calldata r) private {
        // No certificates, transporters or licences: those arrays stay empty.
        TransferRecord storage ret = _transfers[returnId];
        ret.id = returnId;
        ret.shipper = r.receiver;
        ret.receiver = r.returnTo;
        ret.lotId = t.lotId;
        ret.quantity = r.rejectedQuantity;
        ret.operation = r.returnOperation;
        ret.permitId = r.returnPermitId;
        ret.documentHash = t.documentHash;
        ret.deadline = r.deadline;
        ret.status = Status.Returning;
        ret.dispatchedAt = block.timestamp;
    }

    function _hashRejection(Rejection calldata r) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _REJECTION_TYPEHASH,
                r.transferId,
                r.receiver,
                r.acceptedQuantity,
                r.rejectedQuantity,
                keccak256(bytes(r.reason)),
                r.returnTo,
                r.returnPermitId,
                keccak256(bytes(r.returnOperation)),
                r.deadline
            )
        );
    }

    function _hashCorrection(Correction calldata c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _CORRECTION_TYPEHASH,
                c.transferId,
                c.proposer,
                c.shippedDelta,
                c.receivedDelta,
                c.documentHash,
                keccak256(bytes(c.reason)),
                c.nonce,
                c.deadline
            )
        );
    }

    function _checkCertificates(Dispatch calldata d) private view {
        for (uint256 i; i < d.certificates.length; ++i) {
            CertificateRecord storage c = certificates[d.certificates[i]];
            _require(c.lab != address(0) && c.lotId == d.lotId, "certificate not for lot");
            _require(!c.revoked, "certificate revoked");
            _require(block.timestamp <= c.validUntil, "certificate expired");
        }
    }

    function _checkTransporters(Dispatch calldata d, LotRecord storage source) private view {
        _require(d.transporters.length == d.licences.length && d.transporters.length <= _MAX_LEGS, "invalid transporters");
        if (d.transporters.length == 0) return;
        bytes32 codeKey = keccak256(abi.encode(keccak256(bytes(source.wasteScheme)), keccak256(bytes(source.wasteCode))));
        IPermitRegistry.WasteCode memory code = permits.wasteCode(codeKey);
        for (uint256 i; i < d.transporters.length; ++i) {
            if (d.transporters[i] == d.shipper) continue;
            participants.requireActive(d.transporters[i], _TRANSPORTER);
            if (code.hazardous) _require(_licensed(d.licences[i], d.transporters[i], code.id), "unlicensed transporter");
        }
    }

    function _licensed(bytes32 licence, address holder, uint32 codeId) private view returns (bool) {
        try permits.permitTerms(licence, codeId) returns (IPermitRegistry.PermitTerms memory terms) {
            return terms.holder == holder && terms.kind == IPermitRegistry.PermitKind.HazardousWasteTransportLicence
                && !terms.revoked && block.timestamp >= terms.validFrom && block.timestamp <= terms.validUntil
                && terms.operations != 0;
        } catch {
            return false; // no such permit
        }
    }

    function _checkPermit(
        bytes32 permitId,
        address receiver,
        string calldata operation,
        uint256 quantity,
        LotRecord storage source
    ) private {
        bytes32 codeKey = keccak256(abi.encode(keccak256(bytes(source.wasteScheme)), keccak256(bytes(source.wasteCode))));
        uint32 codeId = permits.wasteCode(codeKey).id;
        IPermitRegistry.PermitTerms memory terms = permits.permitTerms(permitId, codeId);
        _require(terms.holder == receiver, "permit not receiver's");
        _require(terms.kind == IPermitRegistry.PermitKind.EnvironmentalPermit, "not an environmental permit");
        _require(!terms.revoked, "permit revoked");
        _require(block.timestamp >= terms.validFrom && block.timestamp <= terms.validUntil, "permit not valid");
        _require(terms.operations & (uint32(1) << _operationBit(operation)) != 0, "permit does not cover");
        uint256 year = _calendarYear(block.timestamp);
        _require(capacityUsed[permitId][year] + quantity <= terms.yearlyCapacity, "capacity exceeded");
        capacityUsed[permitId][year] += quantity;
    }

    function _verify(address signer, bytes32 structHash, uint256 deadline, bytes calldata signature)
        private
        view
        returns (bytes32 digest)
    {
        _require(block.timestamp <= deadline, "expired");
        digest = _hashTypedDataV4(structHash);
        _require(SignatureChecker.isValidSignatureNow(signer, digest, signature), "invalid signature");
    }

    function _hashDispatch(Dispatch calldata d) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _DISPATCH_TYPEHASH,
                d.shipper,
                d.receiver,
                d.lotId,
                d.quantity,
                keccak256(bytes(d.operation)),
                d.permitId,
                keccak256(abi.encodePacked(d.certificates)),
                keccak256(abi.encodePacked(d.transporters)),
                keccak256(abi.encodePacked(d.licences)),
                d.documentHash,
                d.nonce,
                d.deadline
            )
        );
    }

    function _operationBit(string calldata operation) private pure returns (uint256) {
        bytes calldata op = bytes(operation);
        _require(op.length == 2 || op.length == 3, "unknown operation");
        uint256 n;
        for (uint256 i = 1; i < op.length; ++i) {
            uint8 c = uint8(op[i]);
            _require(c >= 0x30 && c <= 0x39 && !(i == 1 && c == 0x30), "unknown operation");
            n = n * 10 + (c - 0x30);
        }
        if (op[0] == "R" && n >= 1 && n <= 13) return n - 1;
        if (op[0] == "D" && n >= 1 && n <= 15) return n + 12;
        revert Refused("unknown operation");
    }

    function _calendarYear(uint256 timestamp) private pure returns (uint256) {
        uint256 z = timestamp / 1 days + 719_468;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097;
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint256 mp = (5 * doy + 2) / 153;
        return yoe + era * 400 + (mp >= 10 ? 1 : 0);
    }

    function _unitHash(IPermitRegistry.Unit unit) private pure returns (bytes32) {
        if (unit == IPermitRegistry.Unit.Kilogram) return keccak256("KGM");
        if (unit == IPermitRegistry.Unit.Litre) return keccak256("LTR");
        return keccak256("KWH");
    }

    function _require(bool condition, string memory reason) private pure {
        if (!condition) revert Refused(reason);
    }
}
