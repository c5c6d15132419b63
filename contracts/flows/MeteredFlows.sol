// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {SignedMessages} from "../utils/SignedMessages.sol";

/**
 * @title MeteredFlows
 * @notice Metered flows through a pipe between two firms (steam, CO2, treated wastewater): a supplier and an
 * offtaker register the flow together, then anchor, period after period, the total their meter measured,
 * each period signed by both. Deployed beside SymbiosisLedger, which it asks for the parties' standing.
 *
 * A flow is identified by the EIP-712 digest of the RegisterFlow statement both parties signed, so either of
 * them can recompute the id, and registering it twice fails on the existing record. Its periods follow each
 * other without gaps from `firstPeriodStart`, each `periodSeconds` long; period `i` covers
 * [firstPeriodStart + i * periodSeconds, firstPeriodStart + (i + 1) * periodSeconds). Periods are anchored in
 * order, many in one transaction, each once and only after it has ended, so the flow's record in storage is
 * its parties, its period grid and how many periods are anchored (two slots); each period's total and the hash
 * of its meter readings are in the batch's PeriodsAnchored event, its signatures in the transaction's calldata.
 * A statement's nonce only makes otherwise identical statements distinct: none is consumed here (`nonceUsed`
 * stays false).
 *
 * A period's two signatures are compact (ERC-2098: r and vs, 64 bytes) to keep a batch's calldata small. They
 * are checked as SignedMessages checks a statement: the key's signature first, then, only if it does not
 * recover to the party and the party is a contract, the party's ERC-1271 wallet, which is given the
 * signature in its usual 65-byte form (r, s, v). A wallet's signature must therefore be one ECDSA signature
 * (a wallet that needs more, e.g. a multisig of several keys, can register a flow, whose signatures are
 * unrestricted, but cannot sign its periods).
 */
contract MeteredFlows is SignedMessages {
    /// @dev SymbiosisLedger's role bits (custody/Participants.sol): the supplier ships, the offtaker receives.
    uint16 private constant _SHIPPER = 1 << 2;
    uint16 private constant _RECEIVER = 1 << 3;

    /// @dev Two slots: the parties, the period grid and how many periods are anchored. Timestamps in a uint64
    /// and periods counted in a uint32 fill the supplier's slot exactly.
    struct Flow {
        address supplier;
        uint32 nextPeriod;
        uint64 firstPeriodStart;
        address offtaker;
        uint32 periodSeconds;
    }

    /// @dev The RegisterFlow statement, field for field as both parties sign it.
    struct FlowRegistration {
        address supplier;
        address offtaker;
        string medium;
        string unit;
        bytes32 meterId;
        uint32 periodSeconds;
        uint64 firstPeriodStart;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One period of a batch: the MeterPeriod statement's own fields (its flow id and period number
    /// come from the batch) and both parties' compact signatures of it. Static: no offsets in calldata.
    struct Period {
        uint64 quantity;
        bytes32 readingHash;
        bytes32 supplierR;
        bytes32 supplierVs;
        bytes32 offtakerR;
        bytes32 offtakerVs;
    }

    bytes32 private constant _REGISTER_FLOW_TYPEHASH = keccak256(
        "RegisterFlow(address supplier,address offtaker,string medium,string unit,bytes32 meterId,"
        "uint32 periodSeconds,uint64 firstPeriodStart,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _METER_PERIOD_TYPEHASH =
        keccak256("MeterPeriod(bytes32 flowId,uint32 period,uint64 quantity,bytes32 readingHash)");
    /// @dev The low 255 bits of an ERC-2098 `vs`: the signature's s (the top bit is v - 27).
    bytes32 private constant _S_MASK = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
    /// @dev Half the secp256k1 curve order: the largest s of a canonical signature.
    uint256 private constant _MAX_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    bytes32 private constant _KGM = keccak256("KGM");
    bytes32 private constant _TNE = keccak256("TNE");
    bytes32 private constant _LTR = keccak256("LTR");
    bytes32 private constant _MTQ = keccak256("MTQ");
    bytes32 private constant _KWH = keccak256("KWH");
    bytes32 private constant _MWH = keccak256("MWH");
    bytes32 private constant _GV = keccak256("GV");

    IParticipantRegistry private immutable _registry;

    mapping(bytes32 flowId => Flow) private _flows;

    /// @notice A supplier and an offtaker registered a metered flow of `medium`, measured in `unit` by meter
    /// `meterId`, in periods of `periodSeconds` from `firstPeriodStart` (unix seconds).
    event FlowRegistered(
        bytes32 indexed flowId,
        address indexed supplier,
        address indexed offtaker,
        string medium,
        string unit,
        bytes32 meterId,
        uint32 periodSeconds,
        uint64 firstPeriodStart
    );
    /// @notice Periods `firstPeriod`, `firstPeriod + 1`, ... were anchored: both parties signed that
    /// `quantities[i]` (in the flow's unit) flowed in period `firstPeriod + i`, from the meter readings whose
    /// hash is `readingHashes[i]`. One event per batch: a period's share of it is 64 bytes of log data, where an
    /// event of its own would cost a log's and its topics' base cost (about 1,300 gas) on every period.
    event PeriodsAnchored(bytes32 indexed flowId, uint32 firstPeriod, uint64[] quantities, bytes32[] readingHashes);

    /// @dev The supplier named itself as the offtaker.
    error SelfFlow(address party);
    /// @dev A required text field of the statement is empty.
    error EmptyField(string field);
    /// @dev The unit is not one of "KGM", "TNE", "LTR", "MTQ", "KWH", "MWH", "GV" (UN/CEFACT Rec. 20).
    error UnknownUnit(string unit);
    /// @dev A flow's periods must last at least one second.
    error ZeroPeriodLength();
    /// @dev No flow with this id is registered.
    error UnknownFlow(bytes32 flowId);
    /// @dev A batch must hold at least one period.
    error NoPeriods(bytes32 flowId);
    /// @dev Periods are anchored in order, each once: the flow's next period is `expected`.
    error PeriodOutOfOrder(bytes32 flowId, uint32 period, uint32 expected);
    /// @dev Period `period`, the batch's last, has not ended yet: it ends at `end` (unix seconds).
    error PeriodNotEnded(bytes32 flowId, uint32 period, uint256 end);
    /// @dev `signer`'s signature of period `period` is not its signature of the MeterPeriod statement.
    error InvalidPeriodSignature(bytes32 flowId, uint32 period, address signer);

    /**
     * @param registry_ The participant registry (the deployed SymbiosisLedger) that says who is active.
     */
    constructor(IParticipantRegistry registry_) EIP712("SymbiosisMeteredFlows", "1") {
        _registry = registry_;
    }

    /**
     * @notice Registers a metered flow on the signed word of both its parties.
     * @dev The supplier must be an active SHIPPER and the offtaker an active RECEIVER.
     * @param r The RegisterFlow statement: supplier, offtaker (another party), medium ("steam", "CO2",
     * "treated wastewater"; not empty), unit (UN/CEFACT "KGM", "TNE", "LTR", "MTQ", "KWH", "MWH" or "GV"),
     * meter id (e.g. the hash of the meter's serial number and calibration record), period length in seconds
     * (positive), start of period 0 (unix seconds), a nonce making the statement unique, and the deadline.
     * @param supplierSignature The supplier's EIP-712 signature of `r`.
     * @param offtakerSignature The offtaker's EIP-712 signature of `r`.
     * @return flowId The EIP-712 digest of the statement, which identifies the flow.
     */
    function registerFlow(
        FlowRegistration calldata r,
        bytes calldata supplierSignature,
        bytes calldata offtakerSignature
    ) external returns (bytes32 flowId) {
        if (r.supplier == r.offtaker) revert SelfFlow(r.supplier);
        if (bytes(r.medium).length == 0) revert EmptyField("medium");
        _checkUnit(r.unit);
        if (r.periodSeconds == 0) revert ZeroPeriodLength();
        _registry.requireActive(r.supplier, _SHIPPER);
        _registry.requireActive(r.offtaker, _RECEIVER);
        bytes32 structHash = _hashRegistration(r);
        flowId = _verifySigned(r.supplier, structHash, r.deadline, supplierSignature);
        _verifySigned(r.offtaker, structHash, r.deadline, offtakerSignature);
        // The supplier is never the zero address (the registry knows no such participant): a set supplier
        // means a registered flow.
        if (_flows[flowId].supplier != address(0)) revert AlreadyRecorded(flowId);

        _flows[flowId] = Flow({
            supplier: r.supplier,
            nextPeriod: 0,
            firstPeriodStart: r.firstPeriodStart,
            offtaker: r.offtaker,
            periodSeconds: r.periodSeconds
        });
        emit FlowRegistered(
            flowId, r.supplier, r.offtaker, r.medium, r.unit, r.meterId, r.periodSeconds, r.firstPeriodStart
        );
    }

    /**
     * @notice Anchors consecutive periods of a flow, each with the total both parties signed.
     * @dev The batch must start at the flow's next period (no period anchored twice, none left out), its last
     * period must have ended, and both parties must be active (checked once for the batch). Any failure
     * refuses the whole batch.
     * @param flowId The flow's id.
     * @param firstPeriod The number of the batch's first period: the flow's next period (`flow`).
     * @param periods The periods `firstPeriod`, `firstPeriod + 1`, ... in order: each with its quantity (in the
     * flow's unit), the hash of its meter readings, and the supplier's and the offtaker's ERC-2098 signatures
     * of the MeterPeriod statement (flow id, period number, quantity, reading hash).
     */
    function anchorPeriods(bytes32 flowId, uint32 firstPeriod, Period[] calldata periods) external {
        Flow storage f = _flows[flowId];
        (address supplier, uint32 next, uint64 start) = (f.supplier, f.nextPeriod, f.firstPeriodStart);
        if (supplier == address(0)) revert UnknownFlow(flowId);
        if (firstPeriod != next) revert PeriodOutOfOrder(flowId, firstPeriod, next);
        uint256 count = periods.length;
        if (count == 0) revert NoPeriods(flowId);
        (address offtaker, uint32 periodSeconds) = (f.offtaker, f.periodSeconds);
        uint32 following = SafeCast.toUint32(uint256(firstPeriod) + count);
        // The batch's periods end one after the other: the last one's end is the batch's.
        uint256 end = uint256(start) + uint256(following) * periodSeconds;
        if (block.timestamp < end) revert PeriodNotEnded(flowId, following - 1, end);
        _registry.requireActive(supplier, _SHIPPER);
        _registry.requireActive(offtaker, _RECEIVER);

        f.nextPeriod = following;
        bytes32 domainSeparator = _domainSeparatorV4();
        (uint256 log, uint256 logSize) = _allocatePeriodsLog(firstPeriod, count);
        for (uint256 i; i < count; ++i) {
            Period calldata p = periods[i];
            uint32 period;
            // firstPeriod + i < following, which fits a uint32 (checked above).
            unchecked {
                period = firstPeriod + uint32(i);
            }
            bytes32 digest = _periodDigest(domainSeparator, flowId, period, p.quantity, p.readingHash);
            _checkPeriodSignature(supplier, digest, p.supplierR, p.supplierVs, flowId, period);
            _checkPeriodSignature(offtaker, digest, p.offtakerR, p.offtakerVs, flowId, period);
            _writePeriodToLog(log, count, i, p.quantity, p.readingHash);
        }
        bytes32 topic = PeriodsAnchored.selector;
        // emit PeriodsAnchored(flowId, firstPeriod, quantities, readingHashes), its data encoded in place.
        assembly ("memory-safe") {
            log2(log, logSize, topic, flowId)
        }
    }

    /**
     * @notice A flow's parties, period grid and next period to anchor (zero addresses if unknown).
     * @param flowId The flow's id.
     * @return supplier The supplying party.
     * @return offtaker The receiving party.
     * @return firstPeriodStart The start of period 0 (unix seconds).
     * @return periodSeconds The length of each period.
     * @return nextPeriod The next period to anchor (the number of periods anchored so far).
     */
    function flow(bytes32 flowId)
        external
        view
        returns (address supplier, address offtaker, uint64 firstPeriodStart, uint32 periodSeconds, uint32 nextPeriod)
    {
        Flow storage f = _flows[flowId];
        return (f.supplier, f.offtaker, f.firstPeriodStart, f.periodSeconds, f.nextPeriod);
    }

    /**
     * @notice The participant registry this contract asks for the parties' standing.
     */
    function registry() external view returns (IParticipantRegistry) {
        return _registry;
    }

    /// @dev Reverts unless (`r`, `vs`) is `signer`'s signature of `digest`: its key's, or its wallet's.
    function _checkPeriodSignature(address signer, bytes32 digest, bytes32 r, bytes32 vs, bytes32 flowId, uint32 period)
        private
        view
    {
        if (_signedByKey(signer, digest, r, vs)) return;
        if (
            signer.code.length == 0
                || !SignatureChecker.isValidERC1271SignatureNow(
                    signer, digest, abi.encodePacked(r, vs & _S_MASK, uint8(uint256(vs) >> 255) + 27)
                )
        ) revert InvalidPeriodSignature(flowId, period, signer);
    }

    /// @dev Whether (`r`, `vs`) is a canonical ECDSA signature of `digest` by `signer`'s key: what
    /// `ECDSA.tryRecover(digest, r, vs)` compared with `signer` says, with one call to the ecrecover precompile
    /// and no error decoding, as it runs twice for every period of a batch.
    function _signedByKey(address signer, bytes32 digest, bytes32 r, bytes32 vs) private view returns (bool signed) {
        bytes32 s = vs & _S_MASK;
        // An s above half the curve order is the malleable twin of a canonical signature (EIP-2): refused, as
        // ECDSA.tryRecover refuses it.
        if (uint256(s) > _MAX_S) return false;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, digest)
            mstore(add(ptr, 0x20), add(shr(255, vs), 27))
            mstore(add(ptr, 0x40), r)
            mstore(add(ptr, 0x60), s)
            // The precompile returns no data for a signature it cannot recover: the zero put in scratch slot 0
            // stays, and the signer (never the zero address) does not match it.
            mstore(0x00, 0)
            let success := staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20)
            signed := and(success, eq(mload(0x00), signer))
        }
    }

    /// @dev Allocates the data of a batch's PeriodsAnchored event, ABI-encoded as `emit` would encode it, and
    /// writes its head: `firstPeriod`, the offsets of the two arrays and their lengths (`count`). The loop over
    /// the batch then writes each period's quantity and reading hash straight into place
    /// (`_writePeriodToLog`): one buffer instead of two memory arrays that `emit` would copy into a third.
    function _allocatePeriodsLog(uint32 firstPeriod, uint256 count) private pure returns (uint256 log, uint256 size) {
        // Three head words, then each array's length word and `count` elements. count * 64 cannot overflow:
        // count is a calldata array's length.
        size = 0xa0 + (count << 6);
        assembly ("memory-safe") {
            log := mload(0x40)
            mstore(0x40, add(log, size))
            mstore(log, firstPeriod)
            mstore(add(log, 0x20), 0x60) // quantities: right after the head
            mstore(add(log, 0x40), add(0x80, shl(5, count))) // readingHashes: after quantities
            mstore(add(log, 0x60), count)
            mstore(add(log, add(0x80, shl(5, count))), count)
        }
    }

    /// @dev Writes period `i`'s quantity and reading hash into a PeriodsAnchored event's data allocated by
    /// `_allocatePeriodsLog` for `count` periods (i < count).
    function _writePeriodToLog(uint256 log, uint256 count, uint256 i, uint64 quantity, bytes32 readingHash)
        private
        pure
    {
        assembly ("memory-safe") {
            mstore(add(log, add(0x80, shl(5, i))), quantity)
            mstore(add(log, add(0xa0, shl(5, add(count, i)))), readingHash)
        }
    }

    /// @dev The EIP-712 digest of the MeterPeriod statement: what `MessageHashUtils.toTypedDataHash(domainSeparator,
    /// keccak256(abi.encode(_METER_PERIOD_TYPEHASH, flowId, period, quantity, readingHash)))` gives, hashed in
    /// scratch memory past the free memory pointer instead of a new allocation on every period of a batch.
    function _periodDigest(bytes32 domainSeparator, bytes32 flowId, uint32 period, uint64 quantity, bytes32 readingHash)
        private
        pure
        returns (bytes32 digest)
    {
        bytes32 typehash = _METER_PERIOD_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), flowId)
            mstore(add(ptr, 0x40), period)
            mstore(add(ptr, 0x60), quantity)
            mstore(add(ptr, 0x80), readingHash)
            let structHash := keccak256(ptr, 0xa0)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    function _checkUnit(string calldata unit) private pure {
        bytes32 h = keccak256(bytes(unit));
        if (h != _KGM && h != _TNE && h != _LTR && h != _MTQ && h != _KWH && h != _MWH && h != _GV) {
            revert UnknownUnit(unit);
        }
    }

    function _hashRegistration(FlowRegistration calldata r) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _REGISTER_FLOW_TYPEHASH,
                r.supplier,
                r.offtaker,
                keccak256(bytes(r.medium)),
                keccak256(bytes(r.unit)),
                r.meterId,
                r.periodSeconds,
                r.firstPeriodStart,
                r.nonce,
                r.deadline
            )
        );
    }
}
