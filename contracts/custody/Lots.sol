// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ILotCustody} from "../interfaces/ILotCustody.sol";
import {Permits} from "./Permits.sol";

/**
 * @title Lots
 * @notice Lots of by-product and who holds how much of each. A generator's signed statement opens a lot with
 * its waste code and quantity; transfers then move quantities out of lots and open new ones for receivers.
 * A lot's waste code is fixed when it is generated and travels with every quantity taken from it, so a code
 * cannot change on the way. A lot is identified by the EIP-712 digest of the statement that opened it; one
 * storage slot holds its holder, balance and waste code.
 */
abstract contract Lots is Permits, ILotCustody {
    /// @dev Quantities fit a uint56 so a transfer's receiver, status, quantity and code share one slot.
    uint64 internal constant _MAX_QUANTITY = type(uint56).max;

    /// @dev One slot: who holds the lot, how much of it is left, and its waste code's catalogue id.
    struct Lot {
        address holder;
        uint64 balance;
        uint32 codeId;
    }

    /// @dev The RegisterLot statement, field for field as the generator signs it.
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

    bytes32 private constant _REGISTER_LOT_TYPEHASH = keccak256(
        "RegisterLot(address generator,string wasteScheme,string wasteCode,uint64 quantity,string unit,"
        "bytes32 documentHash,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 lotId => Lot) private _lots;

    /// @notice A generator opened lot `lotId` of `quantity` (in the waste code's unit) of waste code `codeKey`.
    event LotGenerated(
        bytes32 indexed lotId, address indexed generator, bytes32 indexed codeKey, uint64 quantity, bytes32 documentHash
    );

    /// @dev A quantity must be a positive integer.
    error ZeroQuantity();
    /// @dev A quantity must not exceed `max` (2^56 - 1).
    error QuantityTooLarge(uint64 quantity, uint64 max);
    /// @dev The unit is not the one the waste code's quantities are declared in.
    error UnitMismatch(bytes32 codeKey, string unit);
    /// @dev No lot with this id exists.
    error UnknownLot(bytes32 lotId);
    /// @dev `account` does not hold the lot.
    error NotLotHolder(bytes32 lotId, address account);
    /// @dev The lot holds `balance`, less than the `quantity` asked for.
    error InsufficientLotBalance(bytes32 lotId, uint64 balance, uint64 quantity);

    /**
     * @notice Opens a generated lot on the generator's signed word.
     * @dev The generator must be an active SHIPPER; the waste code must be in the catalogue and the unit must
     * be the one its quantities are declared in.
     * @param r The RegisterLot statement: generator, the waste code's scheme (e.g. "VN-TT02-2022") and code as
     * written there (e.g. "10 02 02"), quantity (a positive integer in `unit`), unit (UN/CEFACT "KGM", "LTR" or
     * "KWH"), SHA-256 of the generation record, a nonce making the statement unique, and the deadline.
     * @param signature The generator's EIP-712 signature of `r`.
     * @return lotId The EIP-712 digest of the statement, which identifies the lot.
     */
    function registerLot(LotRegistration calldata r, bytes calldata signature) external returns (bytes32 lotId) {
        _checkQuantity(r.quantity);
        _requireActive(r.generator, SHIPPER);
        bytes32 codeKey = keccak256(abi.encode(keccak256(bytes(r.wasteScheme)), keccak256(bytes(r.wasteCode))));
        WasteCode memory code = _wasteCode(codeKey);
        if (code.id == 0) revert UnknownWasteCode(codeKey);
        if (keccak256(bytes(r.unit)) != _unitHash(code.unit)) revert UnitMismatch(codeKey, r.unit);
        lotId = _verifySigned(r.generator, _hashLotRegistration(r), r.deadline, signature);
        if (_lots[lotId].holder != address(0)) revert AlreadyRecorded(lotId);

        _lots[lotId] = Lot({holder: r.generator, balance: r.quantity, codeId: code.id});
        emit LotGenerated(lotId, r.generator, codeKey, r.quantity, r.documentHash);
    }

    /**
     * @notice A lot's holder, remaining balance and waste-code id (all zero if there is no such lot).
     * @param lotId The lot's id.
     */
    function lot(bytes32 lotId) external view returns (Lot memory) {
        return _lots[lotId];
    }

    function _lotExists(bytes32 lotId) internal view returns (bool) {
        return _lots[lotId].holder != address(0);
    }

    /// @dev Takes `quantity` out of a lot `holder` holds; returns the lot's waste-code id.
    function _takeFromLot(bytes32 lotId, address holder, uint64 quantity) internal returns (uint32 codeId) {
        Lot storage source = _lots[lotId];
        (address current, uint64 balance) = (source.holder, source.balance);
        if (current == address(0)) revert UnknownLot(lotId);
        if (current != holder) revert NotLotHolder(lotId, holder);
        if (balance < quantity) revert InsufficientLotBalance(lotId, balance, quantity);
        // Cannot underflow: checked against the balance above.
        unchecked {
            source.balance = balance - quantity;
        }
        return source.codeId;
    }

    /// @dev Opens lot `lotId` for `holder` (the id is a fresh statement digest, so it is not in use).
    function _openLot(bytes32 lotId, address holder, uint64 quantity, uint32 codeId) internal {
        _lots[lotId] = Lot({holder: holder, balance: quantity, codeId: codeId});
    }

    /// @dev Moves an agreed correction's `change` into (positive) or out of (negative) lot `lotId`. No holder is
    /// checked: the correction's proposal proved who holds the lot, and a lot's holder never changes. The
    /// balance stays a quantity: never below zero, never above _MAX_QUANTITY.
    function _correctLot(bytes32 lotId, int256 change) internal {
        Lot storage target = _lots[lotId];
        uint64 balance = target.balance;
        int256 corrected;
        // Cannot overflow: the balance is below 2^56 and a correction's change an int64, far inside int256.
        unchecked {
            corrected = int256(uint256(balance)) + change;
        }
        // The magnitude of a negative int64 change fits 64 bits (-type(int64).min is computed in 256 bits).
        if (corrected < 0) revert InsufficientLotBalance(lotId, balance, uint64(uint256(-change)));
        if (corrected > int256(uint256(_MAX_QUANTITY))) revert QuantityTooLarge(uint64(uint256(corrected)), _MAX_QUANTITY);
        // Cannot truncate: 0 <= corrected <= _MAX_QUANTITY, checked just above.
        target.balance = uint64(uint256(corrected));
    }

    // --- hooks of the processing module --------------------------------------------------------------------
    // Processing (contracts/processing) verifies its own statements and calls these to move lot balances; the
    // ledger creates it in its constructor, so no later call can name another module.

    /// @notice The processing module, the only caller of takeFromLot and openLot.
    address public immutable processing;

    /// @param processingModule The processing module, created by the ledger's constructor.
    constructor(address processingModule) {
        processing = processingModule;
    }

    /// @inheritdoc ILotCustody
    function takeFromLot(bytes32 lotId, address holder, uint64 quantity) external returns (uint32 codeId) {
        if (msg.sender != processing) revert NotProcessingModule(msg.sender);
        _checkQuantity(quantity);
        return _takeFromLot(lotId, holder, quantity);
    }

    /// @inheritdoc ILotCustody
    function openLot(bytes32 lotId, address holder, uint64 quantity, uint32 codeId) external {
        if (msg.sender != processing) revert NotProcessingModule(msg.sender);
        _checkQuantity(quantity);
        if (_lotExists(lotId)) revert AlreadyRecorded(lotId);
        _openLot(lotId, holder, quantity, codeId);
    }

    function _checkQuantity(uint64 quantity) internal pure {
        if (quantity == 0) revert ZeroQuantity();
        if (quantity > _MAX_QUANTITY) revert QuantityTooLarge(quantity, _MAX_QUANTITY);
    }

    function _hashLotRegistration(LotRegistration calldata r) private pure returns (bytes32) {
        // Two encodings concatenated equal one encoding of all the fields (all are static words), and keep
        // the stack shallow enough for the legacy code generator.
        return keccak256(
            bytes.concat(
                abi.encode(
                    _REGISTER_LOT_TYPEHASH, r.generator, keccak256(bytes(r.wasteScheme)), keccak256(bytes(r.wasteCode))
                ),
                abi.encode(r.quantity, keccak256(bytes(r.unit)), r.documentHash, r.nonce, r.deadline)
            )
        );
    }
}
