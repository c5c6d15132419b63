// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Permits} from "./Permits.sol";

/**
 * @title Transfers
 * @notice Lots of by-product and their transfers between firms. A generator's signed statement opens a lot
 * with its waste code and quantity; a shipper's signed dispatch sends part of a lot it holds to a receiver
 * whose permit covers the code and the operation; the named receiver's signed receipt, with the quantity it
 * measured, closes the transfer and opens the receiver's lot. Every statement is an EIP-712 message verified
 * here, so the relayer that submits it can neither forge nor alter it.
 *
 * Lots and transfers are identified by the EIP-712 digest of the statement that created them, so anyone
 * holding the statement can recompute the id, and recording a statement twice fails on the existing record
 * (no nonce needs storing). A lot's waste code is fixed when it is generated and travels with it: a dispatch
 * names the lot, never a code, so a code cannot change on the way. Storage holds one slot per lot and per
 * transfer, what later checks need; the full statements are in the events.
 */
abstract contract Transfers is Permits {
    /// @dev Quantities fit a uint56 so a transfer's receiver, status, quantity and code share one slot.
    uint64 private constant _MAX_QUANTITY = type(uint56).max;

    enum TransferStatus {
        None,
        Dispatched,
        Received
    }

    /// @dev One slot: who holds the lot, how much of it is left, and its waste code's catalogue id.
    struct Lot {
        address holder;
        uint64 balance;
        uint32 codeId;
    }

    /// @dev One slot: what the receipt needs to check the receiver and open the receiver's lot.
    struct Transfer {
        address receiver;
        TransferStatus status;
        uint56 quantity;
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

    /// @dev The Dispatch statement, field for field as the shipper signs it.
    struct Dispatch {
        address shipper;
        address receiver;
        bytes32 lotId;
        uint64 quantity;
        string operation;
        bytes32 permitId;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The Receipt statement, field for field as the receiver signs it.
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
    bytes32 private constant _DISPATCH_TYPEHASH = keccak256(
        "Dispatch(address shipper,address receiver,bytes32 lotId,uint64 quantity,string operation,"
        "bytes32 permitId,bytes32 documentHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 transferId,address receiver,uint64 receivedQuantity,uint256 deadline)");

    mapping(bytes32 lotId => Lot) private _lots;
    mapping(bytes32 transferId => Transfer) private _transfers;

    /// @notice A generator opened lot `lotId` of `quantity` (in the waste code's unit) of waste code `codeKey`.
    event LotGenerated(
        bytes32 indexed lotId, address indexed generator, bytes32 indexed codeKey, uint64 quantity, bytes32 documentHash
    );
    /// @notice A shipper dispatched `quantity` of lot `lotId` to `receiver` for `operation` under `permitId`.
    event TransferDispatched(
        bytes32 indexed transferId,
        address indexed shipper,
        address indexed receiver,
        bytes32 lotId,
        uint64 quantity,
        string operation,
        bytes32 permitId,
        bytes32 documentHash
    );
    /// @notice The named receiver received the transfer, measuring `receivedQuantity` of the `shippedQuantity`
    /// dispatched (any difference is the transfer's discrepancy), and now holds lot `transferId` of that much.
    event TransferReceived(
        bytes32 indexed transferId, address indexed receiver, uint64 receivedQuantity, uint64 shippedQuantity
    );

    /// @dev A quantity must be a positive integer.
    error ZeroQuantity();
    /// @dev A quantity must not exceed `max` (2^56 - 1).
    error QuantityTooLarge(uint64 quantity, uint64 max);
    /// @dev The shipper named itself as the receiver.
    error SelfTransfer(address shipper);
    /// @dev This very statement (same digest) was recorded already: a replay.
    error AlreadyRecorded(bytes32 id);
    /// @dev The unit is not the one the waste code's quantities are declared in.
    error UnitMismatch(bytes32 codeKey, string unit);
    /// @dev No lot with this id exists.
    error UnknownLot(bytes32 lotId);
    /// @dev `account` does not hold the lot.
    error NotLotHolder(bytes32 lotId, address account);
    /// @dev The lot holds `balance`, less than the `quantity` asked for.
    error InsufficientLotBalance(bytes32 lotId, uint64 balance, uint64 quantity);
    /// @dev The transfer is not awaiting receipt (`status` is where it stands).
    error TransferNotDispatched(bytes32 transferId, TransferStatus status);
    /// @dev Only the receiver named in the dispatch may receive the transfer.
    error NotNamedReceiver(bytes32 transferId, address receiver);

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
        bytes32 structHash = _hashLotRegistration(r);
        lotId = _verifySigned(r.generator, structHash, r.deadline, signature);
        if (_lots[lotId].holder != address(0)) revert AlreadyRecorded(lotId);

        _lots[lotId] = Lot({holder: r.generator, balance: r.quantity, codeId: code.id});
        emit LotGenerated(lotId, r.generator, codeKey, r.quantity, r.documentHash);
    }

    /**
     * @notice Records a shipper's signed dispatch of part of a lot it holds to a permitted receiver.
     * @dev Checks, in the party's terms: the shipper is an active SHIPPER holding enough of the lot; the
     * receiver is an active RECEIVER holding `permitId`, an environmental permit valid now, not revoked,
     * covering the lot's waste code for `operation`, with yearly capacity left for `quantity`.
     * @param d The Dispatch statement: shipper, receiver, lot id, quantity (in the lot's unit), operation
     * ("R1".."R13" or "D1".."D15"), the receiver's permit id, SHA-256 of the transfer document (manifest,
     * weighbridge ticket), a nonce making the statement unique, and the deadline (unix seconds).
     * @param signature The shipper's EIP-712 signature of `d`.
     * @return transferId The EIP-712 digest of the dispatch, which identifies the transfer.
     */
    function dispatch(Dispatch calldata d, bytes calldata signature) external returns (bytes32 transferId) {
        _checkQuantity(d.quantity);
        if (d.shipper == d.receiver) revert SelfTransfer(d.shipper);
        _requireActive(d.shipper, SHIPPER);
        _requireActive(d.receiver, RECEIVER);
        Lot storage source = _lots[d.lotId];
        (address holder, uint64 balance, uint32 codeId) = (source.holder, source.balance, source.codeId);
        if (holder == address(0)) revert UnknownLot(d.lotId);
        if (holder != d.shipper) revert NotLotHolder(d.lotId, d.shipper);
        if (balance < d.quantity) revert InsufficientLotBalance(d.lotId, balance, d.quantity);
        _usePermit(d.permitId, d.receiver, codeId, d.operation, d.quantity);
        transferId = _verifySigned(d.shipper, _hashDispatch(d), d.deadline, signature);
        Transfer storage t = _transfers[transferId];
        if (t.status != TransferStatus.None) revert AlreadyRecorded(transferId);

        // Cannot underflow: checked against the balance above.
        unchecked {
            source.balance = balance - d.quantity;
        }
        t.receiver = d.receiver;
        t.status = TransferStatus.Dispatched;
        t.quantity = uint56(d.quantity);
        t.codeId = codeId;
        _emitDispatched(transferId, d);
    }

    /**
     * @notice Records the named receiver's signed receipt of a dispatched transfer, opening the receiver's lot
     * (id: the transfer id) for the quantity it measured.
     * @param r The Receipt statement: the transfer id, the receiver (the one named in the dispatch), the
     * quantity it measured (a positive integer in the lot's unit) and the deadline. It needs no nonce: a
     * transfer is received once.
     * @param signature The receiver's EIP-712 signature of `r`.
     */
    function confirmReceipt(Receipt calldata r, bytes calldata signature) external {
        Transfer storage t = _transfers[r.transferId];
        (address receiver, TransferStatus status, uint56 shipped, uint32 codeId) = (t.receiver, t.status, t.quantity, t.codeId);
        if (status != TransferStatus.Dispatched) revert TransferNotDispatched(r.transferId, status);
        if (r.receiver != receiver) revert NotNamedReceiver(r.transferId, r.receiver);
        _checkQuantity(r.receivedQuantity);
        _requireActive(receiver, RECEIVER);
        bytes32 structHash =
            keccak256(abi.encode(_RECEIPT_TYPEHASH, r.transferId, receiver, r.receivedQuantity, r.deadline));
        _verifySigned(receiver, structHash, r.deadline, signature);

        t.status = TransferStatus.Received;
        _lots[r.transferId] = Lot({holder: receiver, balance: r.receivedQuantity, codeId: codeId});
        emit TransferReceived(r.transferId, receiver, r.receivedQuantity, shipped);
    }

    /**
     * @notice A lot's holder, remaining balance and waste-code id (all zero if there is no such lot).
     * @param lotId The lot's id.
     */
    function lot(bytes32 lotId) external view returns (Lot memory) {
        return _lots[lotId];
    }

    /**
     * @notice The stored state of a transfer (all zero if no such transfer was dispatched).
     * @param transferId The transfer's id.
     */
    function transfer(bytes32 transferId) external view returns (Transfer memory) {
        return _transfers[transferId];
    }

    function _emitDispatched(bytes32 transferId, Dispatch calldata d) private {
        // Apart from dispatch() so that its locals and the event's arguments need not share one stack.
        emit TransferDispatched(
            transferId, d.shipper, d.receiver, d.lotId, d.quantity, d.operation, d.permitId, d.documentHash
        );
    }

    function _hashLotRegistration(LotRegistration calldata r) private pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    _REGISTER_LOT_TYPEHASH, r.generator, keccak256(bytes(r.wasteScheme)), keccak256(bytes(r.wasteCode))
                ),
                abi.encode(r.quantity, keccak256(bytes(r.unit)), r.documentHash, r.nonce, r.deadline)
            )
        );
    }

    function _hashDispatch(Dispatch calldata d) private pure returns (bytes32) {
        // Two encodings concatenated equal one encoding of all the fields (all are static words), and keep
        // the stack shallow enough for the legacy code generator.
        return keccak256(
            bytes.concat(
                abi.encode(_DISPATCH_TYPEHASH, d.shipper, d.receiver, d.lotId, d.quantity),
                abi.encode(keccak256(bytes(d.operation)), d.permitId, d.documentHash, d.nonce, d.deadline)
            )
        );
    }

    function _checkQuantity(uint64 quantity) private pure {
        if (quantity == 0) revert ZeroQuantity();
        if (quantity > _MAX_QUANTITY) revert QuantityTooLarge(quantity, _MAX_QUANTITY);
    }
}
