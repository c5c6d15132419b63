// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Transfers} from "./Transfers.sol";

/**
 * @title Returns
 * @notice Rejections: instead of receiving a transfer, its named receiver may refuse all or part of it, with a
 * reason. What it accepts opens its lot as a receipt would; what it refuses is not lost: it leaves as a
 * return transfer, linked to the rejected one, back to the shipper or on to another receiver whose permit
 * covers the code and the operation. The return is closed like any transfer, by its receiver's receipt.
 *
 * The ledger stores no shipper per transfer (a slot per dispatch the common case never needs), so a rejection
 * comes with the rejected dispatch's EIP-712 encoding: its digest must be the transfer id, which proves who
 * shipped it.
 */
abstract contract Returns is Transfers {
    /// @dev The Rejection statement, field for field as the receiver signs it.
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

    /// @dev The operation of a return to the shipper, which is no treatment operation at all.
    uint8 private constant _NO_OPERATION = type(uint8).max;
    bytes32 private constant _REJECTION_TYPEHASH = keccak256(
        "Rejection(bytes32 transferId,address receiver,uint64 acceptedQuantity,uint64 rejectedQuantity,"
        "string reason,address returnTo,bytes32 returnPermitId,string returnOperation,uint256 deadline)"
    );

    /// @notice The receiver of `transferId` refused `rejectedQuantity` of the `shippedQuantity` dispatched for
    /// `reason`, and holds lot `transferId` of the `acceptedQuantity` it accepted (none on a full rejection);
    /// any difference between shipped and accepted plus refused is the transfer's discrepancy.
    event TransferRejected(
        bytes32 indexed transferId,
        address indexed receiver,
        uint64 acceptedQuantity,
        uint64 rejectedQuantity,
        uint64 shippedQuantity,
        string reason
    );
    /// @notice The refused quantity of `transferId` left as return transfer `returnId` to `returnTo` (the
    /// shipper, or another receiver under `permitId` for `operation`, as in TransferDispatched; both zero for a
    /// return to the shipper, with `operation` 255: none). It awaits `returnTo`'s receipt.
    event TransferReturned(
        bytes32 indexed returnId,
        bytes32 indexed transferId,
        address indexed returnTo,
        uint64 quantity,
        bytes32 permitId,
        uint8 operation
    );

    /// @dev A rejection refuses a positive quantity; accepting all is a receipt.
    error NothingRejected(bytes32 transferId);
    /// @dev A return to the shipper names no permit or operation (the shipper takes back its own lot).
    error PermitOnReturnToShipper(bytes32 permitId);

    /**
     * @notice Records the named receiver's signed rejection of all or part of a transfer awaiting its receipt.
     * The accepted part (if any) opens the receiver's lot (id: the transfer id); the refused part leaves as a
     * return transfer (id: the rejection's EIP-712 digest) to the shipper or to another permitted receiver.
     * @param dispatchEncoding The rejected transfer's Dispatch as EIP-712 encodes it (13 words: the type hash,
     * then each field, strings and arrays as their hashes), which proves who shipped it.
     * @param r The Rejection statement: the transfer id; the receiver (the one named in the dispatch); the
     * quantities it accepts (0 for a full rejection) and refuses (positive), both measured in the lot's unit;
     * the reason; where the refused quantity goes: `returnTo` the shipper (permit id zero, operation empty)
     * or another active RECEIVER whose environmental permit `returnPermitId` covers the code for
     * `returnOperation` with yearly capacity left; and the deadline. It needs no nonce: a transfer is
     * rejected at most once.
     * @param signature The receiver's EIP-712 signature of `r`.
     * @return returnId The id of the return transfer.
     */
    function reject(bytes32[13] calldata dispatchEncoding, Rejection calldata r, bytes calldata signature)
        external
        returns (bytes32 returnId)
    {
        Transfer storage t = _transfers[r.transferId];
        (address receiver, TransferStatus status, uint56 shipped, uint32 codeId) =
            (t.receiver, t.status, t.quantity, t.codeId);
        status = _currentStatus(r.transferId, status);
        _requireAwaitingReceipt(r.transferId, status);
        // A return is received, not rejected again: its receiver's receipt records what came back.
        if (status == TransferStatus.Returning) revert NotAwaitingReceipt(r.transferId, status);
        (address shipper,,) = _dispatchParties(r.transferId, dispatchEncoding);
        if (r.receiver != receiver) revert NotNamedReceiver(r.transferId, r.receiver);
        if (r.rejectedQuantity == 0) revert NothingRejected(r.transferId);
        _checkQuantity(r.rejectedQuantity);
        if (r.acceptedQuantity != 0) _checkQuantity(r.acceptedQuantity);
        _requireActive(receiver, RECEIVER);
        uint8 operation = _checkReturnDestination(shipper, r, codeId);
        returnId = _verifySigned(receiver, _hashRejection(r), r.deadline, signature);

        t.status = r.acceptedQuantity == 0 ? TransferStatus.Rejected : TransferStatus.PartiallyRejected;
        if (r.acceptedQuantity != 0) _openLot(r.transferId, receiver, r.acceptedQuantity, codeId);
        emit TransferRejected(r.transferId, receiver, r.acceptedQuantity, r.rejectedQuantity, shipped, r.reason);
        // The digest of a statement about this transfer alone: no earlier record can have this id.
        _transfers[returnId] = Transfer({
            receiver: r.returnTo,
            status: TransferStatus.Returning,
            quantity: uint56(r.rejectedQuantity),
            codeId: codeId
        });
        emit TransferReturned(returnId, r.transferId, r.returnTo, r.rejectedQuantity, r.returnPermitId, operation);
    }

    /// @dev Back to the shipper needs no permit; elsewhere, the same checks as a dispatch to that receiver.
    /// Returns the operation's bit (_NO_OPERATION for a return to the shipper).
    function _checkReturnDestination(address shipper, Rejection calldata r, uint32 codeId)
        private
        returns (uint8 operation)
    {
        if (r.returnTo == shipper) {
            if (r.returnPermitId != bytes32(0) || bytes(r.returnOperation).length != 0) {
                revert PermitOnReturnToShipper(r.returnPermitId);
            }
            return _NO_OPERATION;
        }
        if (r.returnTo == r.receiver) revert SelfTransfer(r.receiver);
        _requireActive(r.returnTo, RECEIVER);
        return _usePermit(r.returnPermitId, r.returnTo, codeId, r.returnOperation, r.rejectedQuantity);
    }

    function _hashRejection(Rejection calldata r) private pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    _REJECTION_TYPEHASH,
                    r.transferId,
                    r.receiver,
                    r.acceptedQuantity,
                    r.rejectedQuantity,
                    keccak256(bytes(r.reason))
                ),
                abi.encode(r.returnTo, r.returnPermitId, keccak256(bytes(r.returnOperation)), r.deadline)
            )
        );
    }
}
