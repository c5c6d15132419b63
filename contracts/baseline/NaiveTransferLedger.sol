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
 * entries as transporters, at most 8). The benchmark measures dispatches and receipts: the carriage legs'
 * pick-up and delivery statements are not part of it (a carried transfer is recorded with its transporters
 * and licences and awaits its receipt here). What differs is the storage design, deliberately the naive one: every record
 * is kept in full as a struct with strings and uint256 fields (a lot with its scheme, code and unit; a
 * certificate with every field of its statement and timestamps; a transfer with every dispatch field,
 * its cited certificates, its status, the received quantity and timestamps), the waste code is looked up
 * again from its strings at each dispatch, a cited certificate is looked up by its id and its lot compared,
 * replays are stopped by sequential per-signer nonces in storage (OpenZeppelin Nonces), and capacity is
 * kept per permit per calendar year. Its certificates are its own (a certificate names a lot, and the
 * baseline's lots are its own), checked as SymbiosisLedger checks its.
 */
contract NaiveTransferLedger is EIP712, Nonces {
    uint16 private constant _SHIPPER = 1 << 2;
    uint16 private constant _RECEIVER = 1 << 3;
    uint16 private constant _TRANSPORTER = 1 << 4;
    uint16 private constant _LAB = 1 << 5;
    uint256 private constant _MAX_LEGS = 8;

    enum Status {
        None,
        Dispatched,
        Received
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

    /// @dev The same statements as TransferLedger's.
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

    IParticipantRegistry public immutable participants;
    IPermitRegistry public immutable permits;

    mapping(bytes32 => LotRecord) public lots;
    mapping(bytes32 => CertificateRecord) public certificates;
    mapping(bytes32 => TransferRecord) public transfers;
    mapping(bytes32 => mapping(uint256 => uint256)) public capacityUsed;

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

    error Refused(string reason);

    constructor(IParticipantRegistry participants_, IPermitRegistry permits_) EIP712("Naive Transfer Ledger", "1") {
        participants = participants_;
        permits = permits_;
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
        _checkPermit(d, source);
        _checkTransporters(d, source);
        _useCheckedNonce(d.shipper, d.nonce);
        transferId = _verify(d.shipper, _hashDispatch(d), d.deadline, signature);

        source.balance -= d.quantity;
        transfers[transferId] = TransferRecord({
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
            status: Status.Dispatched,
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
        TransferRecord storage t = transfers[r.transferId];
        _require(t.status == Status.Dispatched, "not dispatched");
        _require(t.receiver == r.receiver, "not named receiver");
        _require(r.receivedQuantity > 0 && r.receivedQuantity <= type(uint56).max, "quantity");
        participants.requireActive(r.receiver, _RECEIVER);
        bytes32 structHash =
            keccak256(abi.encode(_RECEIPT_TYPEHASH, r.transferId, r.receiver, r.receivedQuantity, r.deadline));
        _verify(r.receiver, structHash, r.deadline, signature);

        t.status = Status.Received;
        t.receivedQuantity = r.receivedQuantity;
        t.receivedAt = block.timestamp;
        LotRecord storage source = lots[t.lotId];
        lots[r.transferId] = LotRecord({
            id: r.transferId,
            generator: source.generator,
            holder: r.receiver,
            wasteScheme: source.wasteScheme,
            wasteCode: source.wasteCode,
            unit: source.unit,
            quantity: r.receivedQuantity,
            balance: r.receivedQuantity,
            documentHash: t.documentHash,
            createdAt: block.timestamp
        });
        emit TransferReceived(r.transferId, r.receiver, r.receivedQuantity, uint64(t.quantity));
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

    function _checkPermit(Dispatch calldata d, LotRecord storage source) private {
        bytes32 codeKey = keccak256(abi.encode(keccak256(bytes(source.wasteScheme)), keccak256(bytes(source.wasteCode))));
        uint32 codeId = permits.wasteCode(codeKey).id;
        IPermitRegistry.PermitTerms memory terms = permits.permitTerms(d.permitId, codeId);
        _require(terms.holder == d.receiver, "permit not receiver's");
        _require(terms.kind == IPermitRegistry.PermitKind.EnvironmentalPermit, "not an environmental permit");
        _require(!terms.revoked, "permit revoked");
        _require(block.timestamp >= terms.validFrom && block.timestamp <= terms.validUntil, "permit not valid");
        _require(terms.operations & (uint32(1) << _operationBit(d.operation)) != 0, "permit does not cover");
        uint256 year = _calendarYear(block.timestamp);
        _require(capacityUsed[d.permitId][year] + d.quantity <= terms.yearlyCapacity, "capacity exceeded");
        capacityUsed[d.permitId][year] += d.quantity;
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
