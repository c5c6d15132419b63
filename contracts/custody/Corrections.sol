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

    /// @dev What a correction puts into effect, fixed when its proposal was checked: the transfer, the shipper's
    /// lot (proven from the dispatch; zero when the quantity shipped is not corrected), the party that must
    /// countersign, the deltas and the deadline. The countersignature names it again, checked against its hash.
    /// No holder is named: a lot's holder never changes, and the proposal proved the shipper holds `lotId` and
    /// the receiver the transfer's own lot.
    struct CorrectionEffect {
        bytes32 transferId;
        bytes32 lotId;
        address counterparty;
        int64 shippedDelta;
        int64 receivedDelta;
        uint256 deadline;
    }

    /// @dev A proposal awaiting its countersignature: the hash of its CorrectionEffect (zero: none awaits).
    mapping(bytes32 correctionId => bytes32 effectHash) private _pendingCorrections;

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
    /// @dev The effect given is not the one the correction's proposal fixed.
    error WrongCorrectionEffect(bytes32 correctionId);

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
        CorrectionEffect memory e = _checkCorrection(dispatchEncoding, c);
        correctionId = _useSignedMessage(c.proposer, _hashCorrection(c), c.nonce, c.deadline, signature);

        _pendingCorrections[correctionId] = keccak256(abi.encode(e));
        emit CorrectionProposed(
            correctionId, c.transferId, c.proposer, e.counterparty, c.shippedDelta, c.receivedDelta, c.documentHash, c.reason
        );
    }

    /**
     * @notice Records the counterparty's signature of a proposed correction and puts it into effect.
     * @dev The counterparty signs the very statement the proposer signed, whose digest is the correction id;
     * what it changes was checked and fixed at the proposal, and nothing checked there can have changed
     * since (a received transfer stays received; a lot refuses a delta it no longer holds). Only the
     * countersigning party must be active now.
     * @param correctionId The proposed correction's id (the EIP-712 digest of its Correction statement).
     * @param e The correction's effect as the proposal fixed it (see `CorrectionProposed` and the dispatch).
     * @param signature The counterparty's EIP-712 signature of the proposed Correction statement.
     */
    function countersignCorrection(bytes32 correctionId, CorrectionEffect calldata e, bytes calldata signature)
        external
    {
        bytes32 effectHash = _pendingCorrections[correctionId];
        if (effectHash == bytes32(0)) revert NoPendingCorrection(correctionId);
        if (_hashEffect(e) != effectHash) revert WrongCorrectionEffect(correctionId);
        _requireActive(e.counterparty, 0);
        _verifySignedDigest(e.counterparty, correctionId, e.deadline, signature);

        delete _pendingCorrections[correctionId];
        // Shipping more takes more from the shipper's lot: the opposite sign of the lot's change.
        if (e.shippedDelta != 0) _correctLot(e.lotId, -int256(e.shippedDelta));
        if (e.receivedDelta != 0) _correctLot(e.transferId, e.receivedDelta);
        emit TransferCorrected(correctionId, e.transferId, e.counterparty);
    }

    /**
     * @notice Whether a proposed correction awaits its countersignature.
     * @param correctionId The correction's id.
     */
    function correctionPending(bytes32 correctionId) external view returns (bool) {
        return _pendingCorrections[correctionId] != bytes32(0);
    }

    /// @dev Checks the correction against the transfer; returns what it will put into effect.
    function _checkCorrection(bytes32[13] calldata dispatchEncoding, Correction calldata c)
        private
        view
        returns (CorrectionEffect memory e)
    {
        TransferStatus status = _transfers[c.transferId].status;
        if (status == TransferStatus.None) revert UnknownTransfer(c.transferId);
        (address shipper, address receiver, bytes32 lotId) = _dispatchParties(c.transferId, dispatchEncoding);
        address proposer = c.proposer;
        if (proposer == shipper) e.counterparty = receiver;
        else if (proposer == receiver) e.counterparty = shipper;
        else revert NotTransferParty(c.transferId, proposer);
        if (c.shippedDelta == 0 && c.receivedDelta == 0 && c.documentHash == bytes32(0)) {
            revert EmptyCorrection(c.transferId);
        }
        if (c.receivedDelta != 0 && status != TransferStatus.Received && status != TransferStatus.PartiallyRejected) {
            revert NotReceived(c.transferId, status);
        }
        _requireActive(proposer, 0);
        _requireActive(e.counterparty, 0);
        // The shipper's lot only where it moves: a zero word is the cheaper calldata for the countersignature.
        if (c.shippedDelta != 0) e.lotId = lotId;
        (e.transferId, e.shippedDelta, e.receivedDelta, e.deadline) = (c.transferId, c.shippedDelta, c.receivedDelta, c.deadline);
    }

    /// @dev keccak256(abi.encode(e)) of a calldata effect, hashed where it lies: its six words are its ABI
    /// encoding (a word with dirty high bits hashes differently from the proposal's and is refused).
    function _hashEffect(CorrectionEffect calldata e) private pure returns (bytes32 effectHash) {
        assembly ("memory-safe") {
            let words := mload(0x40)
            calldatacopy(words, e, 192)
            effectHash := keccak256(words, 192)
        }
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
