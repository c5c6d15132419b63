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
    /// @dev Without transport legs (a pipe, or the receiver collects): Dispatched -> Received. With legs:
    /// AwaitingPickUp -> InTransit (first pick-up, and between legs) -> Delivered (last delivery) -> Received.
    /// A carried transfer's slot keeps AwaitingPickUp until its receipt or rejection: InTransit and Delivered
    /// are read from its carriage (`_currentStatus`), so a pick-up or a delivery rewrites one slot, not two.
    /// Instead of Received, the receiver may refuse all (Rejected) or part (PartiallyRejected) of it; the
    /// refused quantity travels back as a return transfer, Returning until its receipt (Received). An agreed
    /// correction changes quantities, not where a transfer stands: its record is the CorrectionProposed and
    /// TransferCorrected events (see Returns, Corrections).
    enum TransferStatus {
        None,
        Dispatched,
        AwaitingPickUp,
        InTransit,
        Delivered,
        Received,
        PartiallyRejected,
        Rejected,
        Returning
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
        address[] transporters;
        bytes32[] licences;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One slot, for transfers with transport legs: the transporters in order (as a hash: pick-up and
    /// delivery statements come with the list) and how far custody has passed along them.
    struct Carriage {
        bytes28 transportersHash;
        uint8 legs;
        uint8 pickedUp;
        uint8 delivered;
    }

    /// @dev The PickUp and Delivery statements, field for field as the leg's transporter signs them.
    struct Leg {
        bytes32 transferId;
        address transporter;
        uint8 leg;
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
        "bytes32 permitId,bytes32[] certificates,address[] transporters,bytes32[] licences,bytes32 documentHash,"
        "uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _PICK_UP_TYPEHASH =
        keccak256("PickUp(bytes32 transferId,address transporter,uint8 leg,uint256 deadline)");
    bytes32 private constant _DELIVERY_TYPEHASH =
        keccak256("Delivery(bytes32 transferId,address transporter,uint8 leg,uint256 deadline)");
    /// @dev More legs than this would make a dispatch's checks costly without a case for them.
    uint256 private constant _MAX_LEGS = 8;
    bytes32 private constant _RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 transferId,address receiver,uint64 receivedQuantity,uint256 deadline)");

    mapping(bytes32 transferId => Transfer) internal _transfers;
    mapping(bytes32 transferId => Carriage) private _carriages;

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
    /// @notice The dispatch named these transporters, in order, with the licence each carries under (zero where
    /// none is required). Emitted right after TransferDispatched, only for transfers with transport legs.
    event TransferCarried(bytes32 indexed transferId, address[] transporters, bytes32[] licences);
    /// @notice The transporter of leg `leg` (from 0) took custody of the transfer.
    event LegPickedUp(bytes32 indexed transferId, address indexed transporter, uint8 leg);
    /// @notice The transporter of leg `leg` handed the transfer on (to the next leg's transporter, or the receiver).
    event LegDelivered(bytes32 indexed transferId, address indexed transporter, uint8 leg);
    /// @notice The named receiver received the transfer, measuring `receivedQuantity` of the `shippedQuantity`
    /// dispatched (any difference is the transfer's discrepancy), and now holds lot `transferId` of that much.
    event TransferReceived(
        bytes32 indexed transferId, address indexed receiver, uint64 receivedQuantity, uint64 shippedQuantity
    );

    /// @dev The shipper named itself as the receiver.
    error SelfTransfer(address shipper);
    /// @dev The transfer is not awaiting receipt (`status` is where it stands: a carried transfer must be
    /// delivered first).
    error NotAwaitingReceipt(bytes32 transferId, TransferStatus status);
    /// @dev The transfer is not being carried (`status` is where it stands).
    error NotInCarriage(bytes32 transferId, TransferStatus status);
    /// @dev Each transporter needs a licence entry (zero where none is required), and at most 8 legs.
    error InvalidTransporters(uint256 transporters, uint256 licences);
    /// @dev Hazardous waste may only be carried by the shipper itself or a holder of a valid hazardous-waste
    /// transport licence covering its code (Vietnam: Law on Environmental Protection 2020, Art. 83(4)).
    error UnlicensedTransporter(address transporter, bytes32 licence, uint32 codeId);
    /// @dev The transporter list given is not the one in the dispatch.
    error WrongTransporterList(bytes32 transferId);
    /// @dev `transporter` is not the transporter of leg `leg`.
    error NotLegTransporter(bytes32 transferId, uint8 leg, address transporter);
    /// @dev Custody passes leg by leg: picked up and delivered so far are `pickedUp` and `delivered` legs.
    error LegOutOfOrder(bytes32 transferId, uint8 leg, uint8 pickedUp, uint8 delivered);
    /// @dev Only the receiver named in the dispatch may receive the transfer.
    error NotNamedReceiver(bytes32 transferId, address receiver);
    /// @dev The dispatch encoding given is not the one of transfer `transferId`'s dispatch.
    error WrongDispatch(bytes32 transferId);
    /// @dev Item `index` of a batch is neither a call of `dispatch` nor of `confirmReceipt`.
    error NotBatchable(uint256 index);

    /// @notice Item `index` of a batch was refused with `reason` (a custom error's data); the batch's other
    /// dispatches were recorded or refused on their own.
    event BatchItemRefused(uint256 indexed index, bytes reason);

    /**
     * @notice Records a shipper's signed dispatch of part of a lot it holds to a permitted receiver.
     * @dev Checks, in the party's terms: the shipper is an active SHIPPER holding enough of the lot; every
     * cited certificate is valid for the lot; the receiver is an active RECEIVER holding `permitId`, an environmental permit valid now, not revoked,
     * covering the lot's waste code for `operation`, with yearly capacity left for `quantity`.
     * @param d The Dispatch statement: shipper, receiver, lot id, quantity (in the lot's unit), operation
     * ("R1".."R13" or "D1".."D15"), the receiver's permit id, the certificates of the lot it cites (each must
     * be bound to the lot, unrevoked and valid), the transporters in order (none for a pipe or a collection
     * by the receiver; each an active TRANSPORTER or the shipper itself) with the licence each carries under
     * (required for hazardous waste: a valid hazardous-waste transport licence covering the code; zero
     * otherwise), SHA-256 of the transfer document (manifest, weighbridge ticket), a nonce making the
     * statement unique, and the deadline (unix seconds).
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
        uint256 legs = d.transporters.length;
        if (legs != d.licences.length || legs > _MAX_LEGS) revert InvalidTransporters(legs, d.licences.length);
        if (legs != 0) _checkTransporters(d, codeId);
        transferId = _verifySigned(d.shipper, _hashDispatch(d), d.deadline, signature);
        if (_transfers[transferId].status != TransferStatus.None) revert AlreadyRecorded(transferId);

        _transfers[transferId] = Transfer({
            receiver: d.receiver,
            status: legs == 0 ? TransferStatus.Dispatched : TransferStatus.AwaitingPickUp,
            quantity: uint56(d.quantity),
            codeId: codeId
        });
        if (legs != 0) {
            _carriages[transferId] = Carriage({
                transportersHash: bytes28(keccak256(abi.encodePacked(d.transporters))),
                legs: uint8(legs),
                pickedUp: 0,
                delivered: 0
            });
        }
        _emitDispatched(transferId, d, operation);
        if (legs != 0) emit TransferCarried(transferId, d.transporters, d.licences);
    }

    /**
     * @notice Records many independently signed dispatches and receipts in one transaction. Each is checked
     * exactly as by `dispatch` or `confirmReceipt`; one that is refused is reported (BatchItemRefused) and
     * leaves no trace, and the others are recorded all the same, in order (a receipt may follow its dispatch).
     * @param calls Each item a complete call of `dispatch` or `confirmReceipt` (selector and ABI-encoded
     * statement and signature), as a relayer would send it alone: passed on as is, without decoding.
     * @return transferIds The transfer each recorded item dispatched or received, zero where it was refused.
     */
    function recordBatch(bytes[] calldata calls) external returns (bytes32[] memory transferIds) {
        uint256 n = calls.length;
        transferIds = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            bytes calldata item = calls[i];
            bytes4 selector = item.length < 36 ? bytes4(0) : bytes4(item[:4]);
            if (selector != this.dispatch.selector && selector != this.confirmReceipt.selector) revert NotBatchable(i);
            // A call to itself, so that a refused item's state changes revert alone.
            (bool recorded, bytes memory result) = address(this).call(item);
            if (!recorded) emit BatchItemRefused(i, result);
            // A receipt's statement is static: its first word, the transfer id, comes right after the selector.
            else transferIds[i] = selector == this.dispatch.selector ? abi.decode(result, (bytes32)) : bytes32(item[4:36]);
        }
    }

    /**
     * @notice Records the named receiver's signed receipt of a dispatched (or returning) transfer, opening the
     * receiver's lot (id: the transfer id) for the quantity it measured.
     * @param r The Receipt statement: the transfer id, the receiver (the one named in the dispatch), the
     * quantity it measured (a positive integer in the lot's unit) and the deadline. It needs no nonce: a
     * transfer is received once.
     * @param signature The receiver's EIP-712 signature of `r`.
     */
    function confirmReceipt(Receipt calldata r, bytes calldata signature) external {
        Transfer storage t = _transfers[r.transferId];
        (address receiver, TransferStatus status, uint56 shipped, uint32 codeId) = (t.receiver, t.status, t.quantity, t.codeId);
        status = _currentStatus(r.transferId, status);
        _requireAwaitingReceipt(r.transferId, status);
        if (r.receiver != receiver) revert NotNamedReceiver(r.transferId, r.receiver);
        _checkQuantity(r.receivedQuantity);
        // A return goes back to its shipper, who needs no RECEIVER role to take back its own lot (a return
        // to another receiver was checked against that receiver's role and permit when it was rejected).
        _requireActive(receiver, status == TransferStatus.Returning ? 0 : RECEIVER);
        bytes32 structHash =
            keccak256(abi.encode(_RECEIPT_TYPEHASH, r.transferId, receiver, r.receivedQuantity, r.deadline));
        _verifySigned(receiver, structHash, r.deadline, signature);

        t.status = TransferStatus.Received;
        _openLot(r.transferId, receiver, r.receivedQuantity, codeId);
        emit TransferReceived(r.transferId, receiver, r.receivedQuantity, shipped);
    }

    /**
     * @notice Records that the transporter of a leg took custody of a transfer (the first leg: from the
     * shipper; a later one: from the previous leg's transporter, who must have delivered).
     * @param l The PickUp statement: transfer id, transporter, leg (from 0) and deadline. It needs no nonce:
     * each leg is picked up once.
     * @param transporters The dispatch's transporters, in order (checked against the dispatch).
     * @param signature The transporter's EIP-712 signature of `l`.
     */
    function pickUp(Leg calldata l, address[] calldata transporters, bytes calldata signature) external {
        Carriage storage c = _checkLeg(l, transporters, _PICK_UP_TYPEHASH, signature);
        if (c.pickedUp != l.leg || c.delivered != l.leg) revert LegOutOfOrder(l.transferId, l.leg, c.pickedUp, c.delivered);

        c.pickedUp = l.leg + 1;
        emit LegPickedUp(l.transferId, l.transporter, l.leg);
    }

    /**
     * @notice Records that the transporter of a leg handed the transfer on; after the last leg the transfer
     * is delivered and awaits the receiver's receipt. A suspended transporter may still hand on what it
     * carries (custody only passes to active parties): refusing the record would strand the waste, which
     * could then never be received.
     * @param l The Delivery statement: transfer id, transporter, leg (from 0) and deadline.
     * @param transporters The dispatch's transporters, in order (checked against the dispatch).
     * @param signature The transporter's EIP-712 signature of `l`.
     */
    function deliver(Leg calldata l, address[] calldata transporters, bytes calldata signature) external {
        Carriage storage c = _checkLeg(l, transporters, _DELIVERY_TYPEHASH, signature);
        if (c.pickedUp != l.leg + 1 || c.delivered != l.leg) {
            revert LegOutOfOrder(l.transferId, l.leg, c.pickedUp, c.delivered);
        }

        c.delivered = l.leg + 1;
        emit LegDelivered(l.transferId, l.transporter, l.leg);
    }

    /**
     * @notice A transfer's transport legs and how far custody has passed (all zero without legs).
     * @param transferId The transfer's id.
     */
    function carriage(bytes32 transferId) external view returns (Carriage memory) {
        return _carriages[transferId];
    }

    /**
     * @notice The stored state of a transfer (all zero if no such transfer was dispatched).
     * @param transferId The transfer's id.
     */
    function transfer(bytes32 transferId) external view returns (Transfer memory t) {
        t = _transfers[transferId];
        t.status = _currentStatus(transferId, t.status);
    }

    /// @dev Where a transfer stands: its stored status, or for a carried transfer awaiting its receipt how far
    /// its carriage has come.
    function _currentStatus(bytes32 transferId, TransferStatus stored) internal view returns (TransferStatus) {
        if (stored != TransferStatus.AwaitingPickUp) return stored;
        Carriage storage c = _carriages[transferId];
        (uint8 legs, uint8 pickedUp, uint8 delivered) = (c.legs, c.pickedUp, c.delivered);
        if (delivered == legs) return TransferStatus.Delivered;
        return pickedUp == 0 ? TransferStatus.AwaitingPickUp : TransferStatus.InTransit;
    }

    /// @dev A transfer awaits receipt once dispatched without legs, delivered by its last leg, or returning.
    function _requireAwaitingReceipt(bytes32 transferId, TransferStatus status) internal pure {
        if (status != TransferStatus.Dispatched && status != TransferStatus.Delivered && status != TransferStatus.Returning) {
            revert NotAwaitingReceipt(transferId, status);
        }
    }

    /// @dev Every transporter other than the shipper is an active TRANSPORTER; for hazardous waste each holds a
    /// valid transport licence covering the lot's code.
    function _checkTransporters(Dispatch calldata d, uint32 codeId) private view {
        uint256 legs = d.transporters.length;
        bool hazardous = _isHazardous(codeId);
        for (uint256 i; i < legs; ++i) {
            address transporter = d.transporters[i];
            if (transporter == d.shipper) continue;
            _requireActive(transporter, TRANSPORTER);
            if (hazardous && !_licensedToCarry(d.licences[i], transporter, codeId)) {
                revert UnlicensedTransporter(transporter, d.licences[i], codeId);
            }
        }
    }

    /// @dev Checks a PickUp or Delivery statement's transfer, leg, transporter and signature; custody passes
    /// only to an active transporter (a pick-up). The carriage alone says whether legs remain: the transfer's
    /// slot is read only to name its status in a refusal.
    function _checkLeg(Leg calldata l, address[] calldata transporters, bytes32 typehash, bytes calldata signature)
        private
        view
        returns (Carriage storage c)
    {
        c = _carriages[l.transferId];
        if (c.delivered == c.legs) {
            // No legs (not carried, or no such transfer), or all delivered (then received or rejected, maybe).
            revert NotInCarriage(l.transferId, _currentStatus(l.transferId, _transfers[l.transferId].status));
        }
        if (bytes28(keccak256(abi.encodePacked(transporters))) != c.transportersHash) {
            revert WrongTransporterList(l.transferId);
        }
        if (l.leg >= transporters.length || transporters[l.leg] != l.transporter) {
            revert NotLegTransporter(l.transferId, l.leg, l.transporter);
        }
        if (typehash == _PICK_UP_TYPEHASH) _requireActive(l.transporter, 0);
        bytes32 structHash = keccak256(abi.encode(typehash, l.transferId, l.transporter, l.leg, l.deadline));
        _verifySigned(l.transporter, structHash, l.deadline, signature);
    }

    function _emitDispatched(bytes32 transferId, Dispatch calldata d, uint8 operation) private {
        // Apart from dispatch() so that its locals and the event's arguments need not share one stack.
        emit TransferDispatched(
            transferId, d.shipper, d.receiver, d.lotId, d.quantity, operation, d.permitId, d.certificates, d.documentHash
        );
    }

    /**
     * @dev The shipper, receiver and lot of transfer `transferId`, from its dispatch's EIP-712 encoding (the 13
     * words hashed into its struct hash: type hash, then each field, dynamic ones as their hashes), which
     * must be the encoding of the dispatch whose digest is the id. The ledger stores no shipper per transfer:
     * the rare statements that need it prove it this way, at a few words of calldata.
     */
    function _dispatchParties(bytes32 transferId, bytes32[13] calldata encoding)
        internal
        view
        returns (address shipper, address receiver, bytes32 lotId)
    {
        bytes32 structHash;
        assembly ("memory-safe") {
            let words := mload(0x40)
            calldatacopy(words, encoding, 416)
            structHash := keccak256(words, 416)
        }
        if (encoding[0] != _DISPATCH_TYPEHASH || _hashTypedDataV4(structHash) != transferId) {
            revert WrongDispatch(transferId);
        }
        return (address(uint160(uint256(encoding[1]))), address(uint160(uint256(encoding[2]))), encoding[3]);
    }

    function _hashDispatch(Dispatch calldata d) private pure returns (bytes32 structHash) {
        bytes32[13] memory words = [
            _DISPATCH_TYPEHASH,
            bytes32(uint256(uint160(d.shipper))),
            bytes32(uint256(uint160(d.receiver))),
            d.lotId,
            bytes32(uint256(d.quantity)),
            keccak256(bytes(d.operation)),
            d.permitId,
            keccak256(abi.encodePacked(d.certificates)),
            // EIP-712 hashes an array as its elements padded to 32 bytes each: what encodePacked does for arrays.
            keccak256(abi.encodePacked(d.transporters)),
            keccak256(abi.encodePacked(d.licences)),
            d.documentHash,
            bytes32(d.nonce),
            bytes32(d.deadline)
        ];
        // A fixed-size memory array is its 32-byte elements back to back, with no length word: exactly the
        // EIP-712 encoding of the struct, hashed in place (abi.encode would copy it, and its eleven arguments
        // overflow the legacy code generator's stack).
        assembly ("memory-safe") {
            structHash := keccak256(words, 416)
        }
    }
}
