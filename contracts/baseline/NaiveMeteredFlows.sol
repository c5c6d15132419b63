// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";

/**
 * @title NaiveMeteredFlows
 * @notice BENCHMARK BASELINE ONLY: never deployed, never used by the service. It exists so that the gas
 * test (tests/contracts/test_gas_metered.py) can compare MeteredFlows, in the same run, with the common
 * straightforward way of writing the same contract.
 *
 * It does the same job as MeteredFlows with the same statements (RegisterFlow and MeterPeriod, with the same
 * EIP-712 type strings, under its own domain name), the same checks (both parties active in their roles,
 * checked once per call; the same unit list; periods anchored in order, each once, only after it ended;
 * both signatures of every period) and one event per period. What differs is the design, deliberately the
 * naive one: the flow is kept in full as a struct with strings and uint256 fields, every period is stored as
 * a struct holding its flow's medium and unit strings, its times, quantity, reading hash and both full
 * 65-byte signatures; signatures are checked with OpenZeppelin's SignatureChecker (code check first);
 * registrations are stopped from replaying by the supplier's sequential nonce in storage (OpenZeppelin
 * Nonces).
 */
contract NaiveMeteredFlows is EIP712, Nonces {
    uint16 private constant _SHIPPER = 1 << 2;
    uint16 private constant _RECEIVER = 1 << 3;

    struct FlowRecord {
        bytes32 id;
        address supplier;
        address offtaker;
        string medium;
        string unit;
        bytes32 meterId;
        uint256 periodSeconds;
        uint256 firstPeriodStart;
        uint256 nonce;
        uint256 deadline;
        uint256 periodCount;
        uint256 registeredAt;
    }

    struct PeriodRecord {
        bytes32 flowId;
        uint256 period;
        string medium;
        string unit;
        uint256 start;
        uint256 end;
        uint256 quantity;
        bytes32 readingHash;
        bytes supplierSignature;
        bytes offtakerSignature;
        uint256 anchoredAt;
    }

    /// @dev The same RegisterFlow statement as MeteredFlows'.
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

    /// @dev A period with its two full signatures of the same MeterPeriod statement as MeteredFlows'.
    struct Period {
        uint64 quantity;
        bytes32 readingHash;
        bytes supplierSignature;
        bytes offtakerSignature;
    }

    bytes32 private constant _REGISTER_FLOW_TYPEHASH = keccak256(
        "RegisterFlow(address supplier,address offtaker,string medium,string unit,bytes32 meterId,"
        "uint32 periodSeconds,uint64 firstPeriodStart,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _METER_PERIOD_TYPEHASH =
        keccak256("MeterPeriod(bytes32 flowId,uint32 period,uint64 quantity,bytes32 readingHash)");

    IParticipantRegistry public immutable participants;

    mapping(bytes32 => FlowRecord) public flows;
    mapping(bytes32 => mapping(uint256 => PeriodRecord)) public periods;

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
    event PeriodAnchored(bytes32 indexed flowId, uint32 period, uint64 quantity, bytes32 readingHash);

    error Refused(string reason);

    constructor(IParticipantRegistry participants_) EIP712("Naive Metered Flows", "1") {
        participants = participants_;
    }

    function registerFlow(
        FlowRegistration calldata r,
        bytes calldata supplierSignature,
        bytes calldata offtakerSignature
    ) external returns (bytes32 flowId) {
        _require(r.supplier != r.offtaker, "self flow");
        _require(bytes(r.medium).length > 0, "empty medium");
        _require(_knownUnit(r.unit), "unknown unit");
        _require(r.periodSeconds > 0, "zero period length");
        participants.requireActive(r.supplier, _SHIPPER);
        participants.requireActive(r.offtaker, _RECEIVER);
        _useCheckedNonce(r.supplier, r.nonce);
        _require(block.timestamp <= r.deadline, "expired");
        bytes32 structHash = keccak256(
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
        flowId = _hashTypedDataV4(structHash);
        _require(SignatureChecker.isValidSignatureNow(r.supplier, flowId, supplierSignature), "invalid signature");
        _require(SignatureChecker.isValidSignatureNow(r.offtaker, flowId, offtakerSignature), "invalid signature");
        _require(flows[flowId].supplier == address(0), "already registered");

        flows[flowId] = FlowRecord({
            id: flowId,
            supplier: r.supplier,
            offtaker: r.offtaker,
            medium: r.medium,
            unit: r.unit,
            meterId: r.meterId,
            periodSeconds: r.periodSeconds,
            firstPeriodStart: r.firstPeriodStart,
            nonce: r.nonce,
            deadline: r.deadline,
            periodCount: 0,
            registeredAt: block.timestamp
        });
        emit FlowRegistered(
            flowId, r.supplier, r.offtaker, r.medium, r.unit, r.meterId, r.periodSeconds, r.firstPeriodStart
        );
    }

    function anchorPeriods(bytes32 flowId, uint32 firstPeriod, Period[] calldata batch) external {
        FlowRecord storage f = flows[flowId];
        _require(f.supplier != address(0), "unknown flow");
        _require(batch.length > 0, "no periods");
        _require(firstPeriod == f.periodCount, "period out of order");
        participants.requireActive(f.supplier, _SHIPPER);
        participants.requireActive(f.offtaker, _RECEIVER);
        for (uint256 i = 0; i < batch.length; i++) {
            uint256 period = firstPeriod + i;
            uint256 start = f.firstPeriodStart + period * f.periodSeconds;
            uint256 end = start + f.periodSeconds;
            _require(block.timestamp >= end, "period not ended");
            _require(periods[flowId][period].anchoredAt == 0, "period already anchored");
            bytes32 digest = _hashTypedDataV4(
                keccak256(
                    abi.encode(_METER_PERIOD_TYPEHASH, flowId, uint32(period), batch[i].quantity, batch[i].readingHash)
                )
            );
            _require(
                SignatureChecker.isValidSignatureNow(f.supplier, digest, batch[i].supplierSignature),
                "invalid supplier signature"
            );
            _require(
                SignatureChecker.isValidSignatureNow(f.offtaker, digest, batch[i].offtakerSignature),
                "invalid offtaker signature"
            );
            periods[flowId][period] = PeriodRecord({
                flowId: flowId,
                period: period,
                medium: f.medium,
                unit: f.unit,
                start: start,
                end: end,
                quantity: batch[i].quantity,
                readingHash: batch[i].readingHash,
                supplierSignature: batch[i].supplierSignature,
                offtakerSignature: batch[i].offtakerSignature,
                anchoredAt: block.timestamp
            });
            f.periodCount = period + 1;
            emit PeriodAnchored(flowId, uint32(period), batch[i].quantity, batch[i].readingHash);
        }
    }

    function _knownUnit(string calldata unit) private pure returns (bool) {
        bytes32 h = keccak256(bytes(unit));
        return h == keccak256("KGM") || h == keccak256("TNE") || h == keccak256("LTR") || h == keccak256("MTQ")
            || h == keccak256("KWH") || h == keccak256("MWH") || h == keccak256("GV");
    }

    function _require(bool condition, string memory reason) private pure {
        if (!condition) revert Refused(reason);
    }
}
