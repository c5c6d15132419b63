// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IPermitRegistry} from "../interfaces/IPermitRegistry.sol";
import {CalendarYear} from "../utils/CalendarYear.sol";
import {Participants} from "./Participants.sol";

/**
 * @title Permits
 * @notice The catalogue of waste codes and the permits that authorise participants to handle them. Like the
 * participants, it changes only on the signed word of an active regulator: every change is an EIP-712
 * statement that any relayer may submit. It also keeps the account of each permit's yearly capacity, which
 * every dispatch to its holder draws on.
 *
 * A waste code is keyed by its scheme and its code as written ("EU-LOW", "12 01 04*"), and numbered in
 * the order it was registered. A permit is identified by the hash of its number as issued; for each waste
 * code it covers it lists the recovery (R1..R13) and disposal (D1..D15) operations it allows. What the
 * custody ledger needs for its checks is in storage; names and descriptions are only in the events.
 */
abstract contract Permits is IPermitRegistry, Participants {
    /// @dev Bits 0..12 for R1..R13, bits 13..27 for D1..D15.
    uint32 private constant _ALL_OPERATIONS = (1 << 28) - 1;

    /// @dev The RegisterWasteCode statement, field for field as the regulator signs it.
    struct WasteCodeEntry {
        address regulator;
        string scheme;
        string code;
        string unit;
        bool hazardous;
        string description;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The operations a permit allows for one waste code (bits as in PermitTerms.operations).
    struct Coverage {
        bytes32 codeKey;
        uint32 operations;
    }

    /// @dev The RegisterPermit statement, field for field as the regulator signs it.
    struct PermitEntry {
        address regulator;
        string permitNumber;
        address holder;
        uint8 kind;
        Coverage[] coverage;
        uint64 yearlyCapacity;
        uint64 validFrom;
        uint64 validUntil;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The RevokePermit statement, field for field as the regulator signs it.
    struct Revocation {
        address regulator;
        bytes32 permitId;
        string reason;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One slot: 20 + 1 + 5 + 5 + 1 bytes.
    struct Permit {
        address holder;
        PermitKind kind;
        uint40 validFrom;
        uint40 validUntil;
        bool revoked;
    }

    bytes32 private constant _REGISTER_WASTE_CODE_TYPEHASH = keccak256(
        "RegisterWasteCode(address regulator,string scheme,string code,string unit,bool hazardous,"
        "string description,uint256 nonce,uint256 deadline)"
    );
    // EIP-712: a type's encoding is followed by those of the struct types it references.
    bytes32 private constant _REGISTER_PERMIT_TYPEHASH = keccak256(
        "RegisterPermit(address regulator,string permitNumber,address holder,uint8 kind,Coverage[] coverage,"
        "uint64 yearlyCapacity,uint64 validFrom,uint64 validUntil,uint256 nonce,uint256 deadline)"
        "Coverage(bytes32 codeKey,uint32 operations)"
    );
    bytes32 private constant _COVERAGE_TYPEHASH = keccak256("Coverage(bytes32 codeKey,uint32 operations)");
    bytes32 private constant _REVOKE_PERMIT_TYPEHASH =
        keccak256("RevokePermit(address regulator,bytes32 permitId,string reason,uint256 nonce,uint256 deadline)");

    bytes32 private constant _KGM = keccak256("KGM");
    bytes32 private constant _LTR = keccak256("LTR");
    bytes32 private constant _KWH = keccak256("KWH");

    /// @dev One slot: the yearly capacity and how much of it dispatches have used in calendar year `year`.
    /// A dispatch in a later year starts the count again in the same slot, so a new year costs no new slot.
    struct CapacityAccount {
        uint64 capacity;
        uint16 year;
        uint64 used;
    }

    uint32 private _wasteCodeCount;
    mapping(bytes32 codeKey => WasteCode) private _wasteCodes;
    mapping(bytes32 permitId => Permit) private _permits;
    mapping(bytes32 permitId => CapacityAccount) private _capacity;
    mapping(bytes32 permitId => mapping(uint32 codeId => uint32 operations)) private _operations;
    /// @dev The hazardous codes by catalogue id, for the transport rule (a lot knows its code by id).
    mapping(uint32 codeId => bool) private _hazardousCodes;

    /// @notice A regulator added waste code `code` of `scheme` to the catalogue with catalogue id `id`.
    event WasteCodeRegistered(
        bytes32 indexed codeKey,
        uint32 id,
        string scheme,
        string code,
        string unit,
        bool hazardous,
        string description,
        address indexed regulator
    );
    /// @notice A regulator registered permit `permitNumber` of `holder`, covering the listed waste codes.
    event PermitRegistered(
        bytes32 indexed permitId,
        address indexed holder,
        string permitNumber,
        uint8 kind,
        Coverage[] coverage,
        uint64 yearlyCapacity,
        uint64 validFrom,
        uint64 validUntil,
        address regulator
    );
    /// @notice A regulator revoked a permit; its terms now read as revoked.
    event PermitRevoked(bytes32 indexed permitId, address indexed regulator, string reason);

    /// @dev A required text field of the statement is empty.
    error EmptyField(string field);
    /// @dev The unit is not one of "KGM", "LTR", "KWH".
    error UnknownUnit(string unit);
    /// @dev A waste code with this scheme and code is already in the catalogue.
    error WasteCodeAlreadyRegistered(bytes32 codeKey);
    /// @dev A permit with this number is already registered.
    error PermitAlreadyRegistered(bytes32 permitId);
    /// @dev `kind` names no PermitKind other than None.
    error InvalidPermitKind(uint8 kind);
    /// @dev The validity period is empty (`validFrom` >= `validUntil`) or ends beyond the uint40 range.
    error InvalidValidityPeriod(uint64 validFrom, uint64 validUntil);
    /// @dev The operations for a covered code are none, or hold bits that name no R or D operation.
    error InvalidOperations(bytes32 codeKey, uint32 operations);
    /// @dev The permit lists the same waste code twice.
    error DuplicateCoverage(bytes32 codeKey);
    /// @dev The permit is already revoked.
    error PermitAlreadyRevoked(bytes32 permitId);
    /// @dev The operation is not a recovery (R1-R13) or disposal (D1-D15) code.
    error UnknownOperation(string operation);
    /// @dev The permit is held by someone else than the receiver, or is not an environmental permit.
    error PermitNotReceivers(bytes32 permitId, address receiver);
    /// @dev The permit was revoked.
    error RevokedPermit(bytes32 permitId);
    /// @dev The permit is not valid at `time` (it is valid from `validFrom` until `validUntil`).
    error PermitNotValid(bytes32 permitId, uint256 validFrom, uint256 validUntil, uint256 time);
    /// @dev The permit does not cover the lot's waste code for the operation.
    error PermitDoesNotCover(bytes32 permitId, uint32 codeId, string operation);
    /// @dev Receiving `quantity` more would exceed the permit's capacity for `year`.
    error PermitCapacityExceeded(bytes32 permitId, uint256 year, uint64 used, uint64 quantity, uint64 capacity);

    /**
     * @notice Adds a waste code to the catalogue, on the signed word of an active regulator.
     * @param e The RegisterWasteCode statement: the regulator who signed it, the code's scheme (e.g.
     * "VN-TT02-2022", "EU-LOW", "US-RCRA"), the code as written in it (e.g. "12 01 04*"), the unit its
     * quantities are declared in ("KGM", "LTR" or "KWH"), whether it is hazardous, a description, the
     * regulator's nonce and the deadline (unix seconds) for recording it.
     * @param signature The regulator's EIP-712 signature of `e`.
     */
    function registerWasteCode(WasteCodeEntry calldata e, bytes calldata signature) external {
        if (bytes(e.scheme).length == 0) revert EmptyField("scheme");
        if (bytes(e.code).length == 0) revert EmptyField("code");
        Unit unit = _parseUnit(e.unit);
        bytes32 key = _codeKey(e.scheme, e.code);
        if (_wasteCodes[key].id != 0) revert WasteCodeAlreadyRegistered(key);
        _requireActive(e.regulator, REGULATOR);
        _useSignedMessage(e.regulator, _hashWasteCodeEntry(e), e.nonce, e.deadline, signature);

        uint32 id = ++_wasteCodeCount;
        _wasteCodes[key] = WasteCode({id: id, unit: unit, hazardous: e.hazardous});
        if (e.hazardous) _hazardousCodes[id] = true;
        _emitWasteCodeRegistered(key, id, e);
    }

    /**
     * @notice Registers a permit and the operations it allows per waste code, on the signed word of an
     * active regulator.
     * @param p The RegisterPermit statement: the regulator who signed it, the permit number as issued, the
     * holder (any active participant), the kind (a PermitKind other than None), the covered waste codes
     * with their operations, the yearly capacity, the start and end of validity (unix seconds, the end
     * at most 2^40 - 1), the regulator's nonce and the deadline for recording it.
     * @param signature The regulator's EIP-712 signature of `p`.
     */
    function registerPermit(PermitEntry calldata p, bytes calldata signature) external {
        if (bytes(p.permitNumber).length == 0) revert EmptyField("permitNumber");
        if (p.kind == uint8(PermitKind.None) || p.kind > uint8(type(PermitKind).max)) {
            revert InvalidPermitKind(p.kind);
        }
        if (p.validFrom >= p.validUntil || p.validUntil > type(uint40).max) {
            revert InvalidValidityPeriod(p.validFrom, p.validUntil);
        }
        bytes32 permitId = keccak256(bytes(p.permitNumber));
        if (_permits[permitId].holder != address(0)) revert PermitAlreadyRegistered(permitId);
        bytes32 coverageHash = _checkAndHashCoverage(p.coverage);
        _requireActive(p.holder, 0);
        _requireActive(p.regulator, REGULATOR);
        _useSignedMessage(p.regulator, _hashPermitEntry(p, permitId, coverageHash), p.nonce, p.deadline, signature);

        _permits[permitId] = Permit({
            holder: p.holder,
            kind: PermitKind(p.kind),
            validFrom: uint40(p.validFrom),
            validUntil: uint40(p.validUntil),
            revoked: false
        });
        _capacity[permitId].capacity = p.yearlyCapacity;
        _storeCoverage(permitId, p.coverage);
        emit PermitRegistered(
            permitId,
            p.holder,
            p.permitNumber,
            p.kind,
            p.coverage,
            p.yearlyCapacity,
            p.validFrom,
            p.validUntil,
            p.regulator
        );
    }

    /**
     * @notice Revokes a permit, on the signed word of an active regulator; its terms then read as revoked.
     * @param r The RevokePermit statement: the regulator who signed it, the permit id, the reason, the
     * regulator's nonce and the deadline for recording it.
     * @param signature The regulator's EIP-712 signature of `r`.
     */
    function revokePermit(Revocation calldata r, bytes calldata signature) external {
        Permit storage permit = _permits[r.permitId];
        if (permit.holder == address(0)) revert UnknownPermit(r.permitId);
        if (permit.revoked) revert PermitAlreadyRevoked(r.permitId);
        _requireActive(r.regulator, REGULATOR);
        bytes32 structHash = keccak256(
            abi.encode(
                _REVOKE_PERMIT_TYPEHASH, r.regulator, r.permitId, keccak256(bytes(r.reason)), r.nonce, r.deadline
            )
        );
        _useSignedMessage(r.regulator, structHash, r.nonce, r.deadline, signature);

        permit.revoked = true;
        emit PermitRevoked(r.permitId, r.regulator, r.reason);
    }

    /// @inheritdoc IPermitRegistry
    function wasteCode(bytes32 key) external view returns (WasteCode memory entry) {
        entry = _wasteCodes[key];
        if (entry.id == 0) revert UnknownWasteCode(key);
    }

    /// @inheritdoc IPermitRegistry
    function permitTerms(bytes32 permitId, uint32 codeId) external view returns (PermitTerms memory) {
        Permit memory permit = _permits[permitId];
        if (permit.holder == address(0)) revert UnknownPermit(permitId);
        return PermitTerms({
            holder: permit.holder,
            kind: permit.kind,
            validFrom: permit.validFrom,
            validUntil: permit.validUntil,
            revoked: permit.revoked,
            yearlyCapacity: _capacity[permitId].capacity,
            operations: _operations[permitId][codeId]
        });
    }

    /**
     * @notice How much of a permit's yearly capacity dispatches have used in calendar year `year` (UTC).
     * @param permitId The permit's id.
     * @param year The calendar year, e.g. 2026.
     */
    function capacityUsed(bytes32 permitId, uint256 year) external view returns (uint64) {
        CapacityAccount storage account = _capacity[permitId];
        return account.year == year ? account.used : 0;
    }

    /**
     * @notice The key of a waste code: keccak256(abi.encode(keccak256(bytes(scheme)), keccak256(bytes(code)))).
     * @param scheme The code's scheme, e.g. "EU-LOW".
     * @param code The code as written in its scheme, e.g. "12 01 04*".
     */
    function codeKey(string calldata scheme, string calldata code) external pure returns (bytes32) {
        return _codeKey(scheme, code);
    }

    /**
     * @dev Checks that `permitId` lets `receiver` take `quantity` of waste code `codeId` for `operation` now,
     * and draws the quantity from the permit's capacity for the current calendar year.
     */
    /// @dev Returns the operation's bit in the permit's operations mask.
    function _usePermit(bytes32 permitId, address receiver, uint32 codeId, string calldata operation, uint64 quantity)
        internal
        returns (uint8 operationBit)
    {
        operationBit = _checkPermit(permitId, receiver, codeId, operation);
        _drawCapacity(permitId, quantity);
    }

    function _checkPermit(bytes32 permitId, address receiver, uint32 codeId, string calldata operation)
        private
        view
        returns (uint8 operationBit)
    {
        Permit storage permit = _permits[permitId];
        (address holder, PermitKind kind, uint40 validFrom, uint40 validUntil, bool revoked) =
            (permit.holder, permit.kind, permit.validFrom, permit.validUntil, permit.revoked);
        if (holder == address(0)) revert UnknownPermit(permitId);
        if (holder != receiver || kind != PermitKind.EnvironmentalPermit) revert PermitNotReceivers(permitId, receiver);
        if (revoked) revert RevokedPermit(permitId);
        if (block.timestamp < validFrom || block.timestamp > validUntil) {
            revert PermitNotValid(permitId, validFrom, validUntil, block.timestamp);
        }
        operationBit = _operationBit(operation);
        if (_operations[permitId][codeId] & (uint32(1) << operationBit) == 0) {
            revert PermitDoesNotCover(permitId, codeId, operation);
        }
    }

    function _drawCapacity(bytes32 permitId, uint64 quantity) private {
        CapacityAccount storage account = _capacity[permitId];
        (uint64 capacity, uint16 year, uint64 used) = (account.capacity, account.year, account.used);
        uint16 thisYear = uint16(CalendarYear.fromTimestamp(block.timestamp));
        if (year != thisYear) used = 0;
        if (uint256(used) + quantity > capacity) {
            revert PermitCapacityExceeded(permitId, thisYear, used, quantity, capacity);
        }
        // Cannot overflow: bounded by the capacity just checked.
        unchecked {
            used += quantity;
        }
        account.year = thisYear;
        account.used = used;
    }

    /// @dev Whether `permitId` is a permit of `kind` held by `holder`, valid now and not revoked.
    function _holdsValid(bytes32 permitId, address holder, PermitKind kind) internal view returns (bool) {
        Permit storage permit = _permits[permitId];
        return permit.holder == holder && permit.kind == kind && !permit.revoked
            && block.timestamp >= permit.validFrom && block.timestamp <= permit.validUntil;
    }

    function _isHazardous(uint32 codeId) internal view returns (bool) {
        return _hazardousCodes[codeId];
    }

    /// @dev Whether `licence` is a valid hazardous-waste transport licence of `holder` covering `codeId`.
    function _licensedToCarry(bytes32 licence, address holder, uint32 codeId) internal view returns (bool) {
        return _holdsValid(licence, holder, PermitKind.HazardousWasteTransportLicence)
            && _operations[licence][codeId] != 0;
    }

    /// @dev Bit of an operation code in a permit's operations mask: R1..R13 -> 0..12, D1..D15 -> 13..27.
    function _operationBit(string calldata operation) private pure returns (uint8) {
        bytes calldata op = bytes(operation);
        if (op.length < 2 || op.length > 3) revert UnknownOperation(operation);
        uint256 n;
        for (uint256 i = 1; i < op.length; ++i) {
            uint8 c = uint8(op[i]);
            if (c < 0x30 || c > 0x39 || (i == 1 && c == 0x30)) revert UnknownOperation(operation);
            n = n * 10 + (c - 0x30);
        }
        if (op[0] == "R" && n >= 1 && n <= 13) return uint8(n - 1);
        if (op[0] == "D" && n >= 1 && n <= 15) return uint8(n + 12);
        revert UnknownOperation(operation);
    }

    /// @dev Checks every covered code (registered, valid operations) and returns the EIP-712 hash of the array.
    function _checkAndHashCoverage(Coverage[] calldata coverage) private view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](coverage.length);
        for (uint256 i; i < coverage.length; ++i) {
            Coverage calldata c = coverage[i];
            if (_wasteCodes[c.codeKey].id == 0) revert UnknownWasteCode(c.codeKey);
            if (c.operations == 0 || c.operations & ~_ALL_OPERATIONS != 0) {
                revert InvalidOperations(c.codeKey, c.operations);
            }
            hashes[i] = keccak256(abi.encode(_COVERAGE_TYPEHASH, c.codeKey, c.operations));
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _storeCoverage(bytes32 permitId, Coverage[] calldata coverage) private {
        mapping(uint32 => uint32) storage operations = _operations[permitId];
        for (uint256 i; i < coverage.length; ++i) {
            uint32 codeId = _wasteCodes[coverage[i].codeKey].id;
            // Operations are never zero once stored, so a non-zero entry means the code is listed twice.
            if (operations[codeId] != 0) revert DuplicateCoverage(coverage[i].codeKey);
            operations[codeId] = coverage[i].operations;
        }
    }

    /// @dev Apart from the caller's locals: the event's three strings alone take six stack slots.
    function _emitWasteCodeRegistered(bytes32 key, uint32 id, WasteCodeEntry calldata e) private {
        emit WasteCodeRegistered(key, id, e.scheme, e.code, e.unit, e.hazardous, e.description, e.regulator);
    }

    function _hashWasteCodeEntry(WasteCodeEntry calldata e) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _REGISTER_WASTE_CODE_TYPEHASH,
                e.regulator,
                keccak256(bytes(e.scheme)),
                keccak256(bytes(e.code)),
                keccak256(bytes(e.unit)),
                e.hazardous,
                keccak256(bytes(e.description)),
                e.nonce,
                e.deadline
            )
        );
    }

    /// @dev `permitId` is keccak256(bytes(p.permitNumber)), which is also how EIP-712 encodes the string.
    function _hashPermitEntry(PermitEntry calldata p, bytes32 permitId, bytes32 coverageHash)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                _REGISTER_PERMIT_TYPEHASH,
                p.regulator,
                permitId,
                p.holder,
                p.kind,
                coverageHash,
                p.yearlyCapacity,
                p.validFrom,
                p.validUntil,
                p.nonce,
                p.deadline
            )
        );
    }

    /// @dev The catalogue entry of `key` (id 0 if the code is not registered).
    function _wasteCode(bytes32 key) internal view returns (WasteCode memory) {
        return _wasteCodes[key];
    }

    /// @dev keccak256 of a unit's UN/CEFACT code.
    function _unitHash(Unit unit) internal pure returns (bytes32) {
        if (unit == Unit.Kilogram) return _KGM;
        if (unit == Unit.Litre) return _LTR;
        return _KWH;
    }

    function _parseUnit(string calldata unit) private pure returns (Unit) {
        bytes32 h = keccak256(bytes(unit));
        if (h == _KGM) return Unit.Kilogram;
        if (h == _LTR) return Unit.Litre;
        if (h == _KWH) return Unit.KilowattHour;
        revert UnknownUnit(unit);
    }

    function _codeKey(string calldata scheme, string calldata code) internal pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(bytes(scheme)), keccak256(bytes(code))));
    }
}
