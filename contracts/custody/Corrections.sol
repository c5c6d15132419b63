// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Returns} from "./Returns.sol";

/**
 * @title Corrections
 * @notice Agreed corrections of a transfer: the quantity shipped, the quantity received, the transfer document.
 * One party (the shipper or the receiver) proposes a signed Correction; it takes effect only when the other
 * party signs the very same statement. Nothing recorded is overwritten: the dispatch, the receipt and every
 * correction stay in the events, in order, and the lots' balances move by the agreed deltas (a shipped
 * delta from or back to the shipper's lot, a received delta to or from the receiver's lot), so the mass
 * balance keeps holding and no quantity appears or disappears without both signatures.
 */
abstract contract Corrections is Returns {
    /// @dev The Correction statement, field for field as both parties sign it.
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

    bytes32 private constant _CORRECTION_TYPEHASH = keccak256(
        "Correction(bytes32 transferId,address proposer,int64 shippedDelta,int64 receivedDelta,bytes32 documentHash,"
        "string reason,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 correctionId => address counterparty) private _awaitingCountersignature;

    /// @notice `proposer` proposed correction `correctionId` of `transferId`: `shippedDelta` to the quantity
    /// shipped, `receivedDelta` to the quantity received, `documentHash` the corrected transfer document (zero:
    /// unchanged). It awaits `counterparty`'s countersignature.
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
    /// @notice `counterparty` countersigned correction `correctionId` of `transferId`, which took effect.
    event TransferCorrected(bytes32 indexed correctionId, bytes32 indexed transferId, address indexed counterparty);

    /// @dev No transfer with this id was dispatched.
    error UnknownTransfer(bytes32 transferId);
    /// @dev Only the shipper and the receiver of a transfer may propose or countersign its corrections.
    error NotTransferParty(bytes32 transferId, address account);
    /// @dev The correction changes nothing.
    error EmptyCorrection(bytes32 transferId);
    /// @dev A received quantity can only be corrected once the receiver holds the transfer's lot.
    error NotReceived(bytes32 transferId, TransferStatus status);
    /// @dev No correction with this id awaits a countersignature (never proposed, or already in effect).
    error NoPendingCorrection(bytes32 correctionId);

    /**
     * @notice Records a party's signed proposal to correct a transfer; it takes effect once countersigned.
     * @param dispatchEncoding The transfer's Dispatch as EIP-712 encodes it (13 words: the type hash, then each
     * field, strings and arrays as their hashes), which proves both parties and the shipper's lot.
     * @param c The Correction statement: the transfer id; the proposer (its shipper or receiver, active);
     * the change to the quantity shipped (taken from the shipper's lot when positive, put back when
     * negative); the change to the quantity received (only once received: added to the receiver's lot when
     * positive, taken from it when negative); the corrected document's SHA-256 (zero: unchanged); the
     * reason; a nonce making the statement unique; and the deadline by which it must also be countersigned.
     * @param signature The proposer's EIP-712 signature of `c`.
     * @return correctionId The EIP-712 digest of the correction, which the counterparty signs too.
     */
    function proposeCorrection(bytes32[13] calldata dispatchEncoding, Correction calldata c, bytes calldata signature)
        external
        returns (bytes32 correctionId)
    {
        (address counterparty,,) = _checkCorrection(dispatchEncoding, c);
        correctionId = _useSignedMessage(c.proposer, _hashCorrection(c), c.nonce, c.deadline, signature);

        _awaitingCountersignature[correctionId] = counterparty;
        emit CorrectionProposed(
            correctionId, c.transferId, c.proposer, counterparty, c.shippedDelta, c.receivedDelta, c.documentHash, c.reason
        );
    }

    /**
     * @notice Records the counterparty's signature of a proposed correction and puts it into effect.
     * @param dispatchEncoding The transfer's Dispatch as EIP-712 encodes it (see `proposeCorrection`).
     * @param c The proposed Correction statement, unchanged.
     * @param signature The counterparty's EIP-712 signature of `c` (the same statement the proposer signed).
     */
    function countersignCorrection(bytes32[13] calldata dispatchEncoding, Correction calldata c, bytes calldata signature)
        external
    {
        bytes32 structHash = _hashCorrection(c);
        bytes32 correctionId = _hashTypedDataV4(structHash);
        address counterparty = _awaitingCountersignature[correctionId];
        if (counterparty == address(0)) revert NoPendingCorrection(correctionId);
        // The transfer may have moved on since the proposal (received, or its lots shipped on): check again.
        (, address shipper, bytes32 lotId) = _checkCorrection(dispatchEncoding, c);
        _verifySigned(counterparty, structHash, c.deadline, signature);

        delete _awaitingCountersignature[correctionId];
        _applyDeltas(c, shipper, lotId);
        emit TransferCorrected(correctionId, c.transferId, counterparty);
    }

    /**
     * @notice The party whose countersignature a proposed correction awaits (zero if none does).
     * @param correctionId The correction's id.
     */
    function awaitingCountersignature(bytes32 correctionId) external view returns (address) {
        return _awaitingCountersignature[correctionId];
    }

    /// @dev Checks the correction against the transfer; returns the party that must countersign it, the
    /// shipper and the shipper's lot.
    function _checkCorrection(bytes32[13] calldata dispatchEncoding, Correction calldata c)
        private
        view
        returns (address counterparty, address shipper, bytes32 lotId)
    {
        TransferStatus status = _transfers[c.transferId].status;
        if (status == TransferStatus.None) revert UnknownTransfer(c.transferId);
        address receiver;
        (shipper, receiver, lotId) = _dispatchParties(c.transferId, dispatchEncoding);
        address proposer = c.proposer;
        if (proposer == shipper) counterparty = receiver;
        else if (proposer == receiver) counterparty = shipper;
        else revert NotTransferParty(c.transferId, proposer);
        if (c.shippedDelta == 0 && c.receivedDelta == 0 && c.documentHash == bytes32(0)) {
            revert EmptyCorrection(c.transferId);
        }
        if (c.receivedDelta != 0 && !_received(status)) revert NotReceived(c.transferId, status);
        _requireActive(proposer, 0);
        _requireActive(counterparty, 0);
    }

    /// @dev Moves the agreed quantities; a lot that no longer holds what a delta takes back refuses it.
    function _applyDeltas(Correction calldata c, address shipper, bytes32 lotId) private {
        Transfer storage t = _transfers[c.transferId];
        // Shipping more takes more from the shipper's lot: the opposite sign of the lot's change.
        if (c.shippedDelta != 0) _moveLot(lotId, shipper, -int256(c.shippedDelta));
        if (c.receivedDelta != 0) _moveLot(c.transferId, t.receiver, c.receivedDelta);
        if (_received(t.status)) t.status = TransferStatus.Corrected;
    }

    function _moveLot(bytes32 lotId, address holder, int256 change) private {
        // Both magnitudes fit 64 bits: a delta is an int64, and -type(int64).min is computed in 256 bits.
        if (change > 0) _addToLot(lotId, holder, uint64(uint256(change)));
        else _takeFromLot(lotId, holder, uint64(uint256(-change)));
    }

    function _received(TransferStatus status) private pure returns (bool) {
        return status == TransferStatus.Received || status == TransferStatus.PartiallyRejected
            || status == TransferStatus.Corrected;
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
}
