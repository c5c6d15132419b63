// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Certificates} from "./Certificates.sol";

/**
 * @title Transfers
 * @notice Transfers of part of a lot between firms. A shipper's signed dispatch sends part of a lot it holds,
 * citing the lot's certificates, to a receiver whose permit covers the lot's code and the operation; the
 * named receiver's signed receipt, with the quantity it measured, closes the transfer and opens the
 * receiver's lot. Every statement is an EIP-712 message verified here, so the relayer that submits it can
 * neither forge nor alter it.
 *
 * A transfer is identified by the EIP-712 digest of its dispatch, so anyone holding the dispatch can recompute
 * the id, and recording it twice fails on the existing record (no nonce needs storing). Storage holds one slot
 * per transfer, what the receipt needs; the full statements are in the events.
 */
abstract contract Transfers is Certificates {
    enum TransferStatus {
        None,
        Dispatched,
        Received
    }

    /// @dev One slot: what the receipt needs to check the receiver and open the receiver's lot.
    struct Transfer {
        address receiver;
        TransferStatus status;
        uint56 quantity;
        uint32 codeId;
    }

    /// @dev The Dispatch statement, field for field as the shipper signs it.
    struct Dispatch {
        address shipper;
        address receiver;
        bytes32 lotId;
        uint64 quantity;
        string operation;
        bytes32 permitId;
        bytes32[] certificates;
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

    bytes32 private constant _DISPATCH_TYPEHASH = keccak256(
        "Dispatch(address shipper,address receiver,bytes32 lotId,uint64 quantity,string operation,"
        "bytes32 permitId,bytes32[] certificates,bytes32 documentHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 transferId,address receiver,uint64 receivedQuantity,uint256 deadline)");

    mapping(bytes32 transferId => Transfer) private _transfers;

    /// @notice A shipper dispatched `quantity` of lot `lotId` to `receiver` for `operation` under `permitId`,
    /// citing the lot's `certificates`. `operation` is the operation's bit in a permit's mask: 0..12 for
    /// R1..R13, 13..27 for D1..D15 (the statement's text is in the transaction's calldata and its digest).
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
    /// @notice The named receiver received the transfer, measuring `receivedQuantity` of the `shippedQuantity`
    /// dispatched (any difference is the transfer's discrepancy), and now holds lot `transferId` of that much.
    event TransferReceived(
        bytes32 indexed transferId, address indexed receiver, uint64 receivedQuantity, uint64 shippedQuantity
    );

    /// @dev The shipper named itself as the receiver.
    error SelfTransfer(address shipper);
    /// @dev The transfer is not awaiting receipt (`status` is where it stands).
    error TransferNotDispatched(bytes32 transferId, TransferStatus status);
    /// @dev Only the receiver named in the dispatch may receive the transfer.
    error NotNamedReceiver(bytes32 transferId, address receiver);

    /**
     * @notice Records a shipper's signed dispatch of part of a lot it holds to a permitted receiver.
     * @dev Checks, in the party's terms: the shipper is an active SHIPPER holding enough of the lot; every
     * cited certificate is valid for the lot; the receiver is an active RECEIVER holding `permitId`, an environmental permit valid now, not revoked,
     * covering the lot's waste code for `operation`, with yearly capacity left for `quantity`.
     * @param d The Dispatch statement: shipper, receiver, lot id, quantity (in the lot's unit), operation
     * ("R1".."R13" or "D1".."D15"), the receiver's permit id, the certificates of the lot it cites (each must
     * be bound to the lot, unrevoked and valid), SHA-256 of the transfer document (manifest, weighbridge
     * ticket), a nonce making the statement unique, and the deadline (unix seconds).
     * @param signature The shipper's EIP-712 signature of `d`.
     * @return transferId The EIP-712 digest of the dispatch, which identifies the transfer.
     */
    function dispatch(Dispatch calldata d, bytes calldata signature) external returns (bytes32 transferId) {
        _checkQuantity(d.quantity);
        if (d.shipper == d.receiver) revert SelfTransfer(d.shipper);
        _requireActive(d.shipper, SHIPPER);
        _requireActive(d.receiver, RECEIVER);
        uint32 codeId = _takeFromLot(d.lotId, d.shipper, d.quantity);
        _checkCertificates(d.certificates, d.lotId);
        uint8 operation = _usePermit(d.permitId, d.receiver, codeId, d.operation, d.quantity);
        transferId = _verifySigned(d.shipper, _hashDispatch(d), d.deadline, signature);
        if (_transfers[transferId].status != TransferStatus.None) revert AlreadyRecorded(transferId);

        _transfers[transferId] = Transfer({
            receiver: d.receiver, status: TransferStatus.Dispatched, quantity: uint56(d.quantity), codeId: codeId
        });
        _emitDispatched(transferId, d, operation);
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
        _openLot(r.transferId, receiver, r.receivedQuantity, codeId);
        emit TransferReceived(r.transferId, receiver, r.receivedQuantity, shipped);
    }

    /**
     * @notice The stored state of a transfer (all zero if no such transfer was dispatched).
     * @param transferId The transfer's id.
     */
    function transfer(bytes32 transferId) external view returns (Transfer memory) {
        return _transfers[transferId];
    }

    function _emitDispatched(bytes32 transferId, Dispatch calldata d, uint8 operation) private {
        // Apart from dispatch() so that its locals and the event's arguments need not share one stack.
        emit TransferDispatched(
            transferId, d.shipper, d.receiver, d.lotId, d.quantity, operation, d.permitId, d.certificates, d.documentHash
        );
    }

    function _hashDispatch(Dispatch calldata d) private pure returns (bytes32 structHash) {
        bytes32[11] memory words = [
            _DISPATCH_TYPEHASH,
            bytes32(uint256(uint160(d.shipper))),
            bytes32(uint256(uint160(d.receiver))),
            d.lotId,
            bytes32(uint256(d.quantity)),
            keccak256(bytes(d.operation)),
            d.permitId,
            keccak256(abi.encodePacked(d.certificates)),
            d.documentHash,
            bytes32(d.nonce),
            bytes32(d.deadline)
        ];
        // A fixed-size memory array is its 32-byte elements back to back, with no length word: exactly the
        // EIP-712 encoding of the struct, hashed in place (abi.encode would copy it, and its eleven arguments
        // overflow the legacy code generator's stack).
        assembly ("memory-safe") {
            structHash := keccak256(words, 352)
        }
    }
}
