// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {SignedMessages} from "./utils/SignedMessages.sol";

/**
 * @title TransferLedger
 * @notice The record of by-product transfers between firms. A shipper's signed dispatch opens a transfer;
 * the named receiver's signed receipt, with the quantity it measured, closes it. Both statements are
 * EIP-712 messages verified here, so the relayer that submits them cannot forge or alter either.
 *
 * A transfer is identified by the EIP-712 digest of its dispatch: the id commits to every field the
 * shipper signed (lot, waste code, quantity, unit, receiver, document hash) as well as to the chain,
 * this contract and the shipper's nonce, so anyone holding the dispatch can recompute it. Only what
 * later checks need is kept in storage; the full statements are in the events.
 */
contract TransferLedger is SignedMessages {
    // Role bits of the ParticipantRegistry this ledger trusts.
    uint16 private constant _SHIPPER = 1 << 2;
    uint16 private constant _RECEIVER = 1 << 3;
    /// @dev Quantities stay within int64 so that any SQL read model stores them exactly.
    uint64 private constant _MAX_QUANTITY = uint64(type(int64).max);

    enum Status {
        None,
        Dispatched,
        Received
    }

    /// @dev Two slots: (shipper, status, quantity) and (receiver, receivedQuantity).
    struct Transfer {
        address shipper;
        Status status;
        uint64 quantity;
        address receiver;
        uint64 receivedQuantity;
    }

    /// @dev The Dispatch statement, field for field as the shipper signs it.
    struct Dispatch {
        address shipper;
        address receiver;
        bytes32 lotId;
        string wasteCode;
        uint64 quantity;
        string unit;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The Receipt statement, field for field as the receiver signs it.
    struct Receipt {
        bytes32 transferId;
        address receiver;
        uint64 receivedQuantity;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 private constant _DISPATCH_TYPEHASH = keccak256(
        "Dispatch(address shipper,address receiver,bytes32 lotId,string wasteCode,uint64 quantity,string unit,"
        "bytes32 documentHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 transferId,address receiver,uint64 receivedQuantity,uint256 nonce,uint256 deadline)");

    /// @notice The registry of participants whose roles and status this ledger checks.
    IParticipantRegistry public immutable registry;

    mapping(bytes32 transferId => Transfer) private _transfers;

    /// @notice A shipper dispatched `quantity` `unit` of lot `lotId` (waste code `wasteCode`) to `receiver`.
    event TransferDispatched(
        bytes32 indexed transferId,
        address indexed shipper,
        address indexed receiver,
        bytes32 lotId,
        string wasteCode,
        uint64 quantity,
        string unit,
        bytes32 documentHash,
        uint256 nonce
    );
    /// @notice The named receiver received the transfer and measured `receivedQuantity` (in the dispatch's unit).
    event TransferReceived(bytes32 indexed transferId, address indexed receiver, uint64 receivedQuantity, uint256 nonce);

    /// @dev A quantity must be a positive integer.
    error ZeroQuantity();
    /// @dev A quantity must not exceed `max` (2^63 - 1).
    error QuantityTooLarge(uint64 quantity, uint64 max);
    /// @dev The shipper named itself as the receiver.
    error SelfTransfer(address shipper);
    /// @dev The waste code or the unit is empty.
    error EmptyField(string field);
    /// @dev The transfer is not awaiting receipt (`status` is where it stands).
    error TransferNotDispatched(bytes32 transferId, Status status);
    /// @dev Only the receiver named in the dispatch may receive the transfer.
    error NotNamedReceiver(bytes32 transferId, address receiver);

    /**
     * @param registry_ The participant registry whose roles and status this ledger checks.
     */
    constructor(IParticipantRegistry registry_) EIP712("SymbiosisLedger Transfers", "1") {
        registry = registry_;
    }

    /**
     * @notice Records a shipper's signed dispatch of a quantity of a lot to a receiver.
     * @dev The shipper must be an active SHIPPER and the receiver an active RECEIVER in the registry.
     * @param d The Dispatch statement: shipper, receiver, lot id, waste code as written in its scheme
     * (e.g. "10 02 02"), quantity (a positive integer in `unit`), unit (a UN/CEFACT code such as "KGM",
     * "TNE", "MTQ"), SHA-256 of the transfer document, the shipper's nonce and the deadline (unix seconds).
     * @param signature The shipper's EIP-712 signature of `d`.
     * @return transferId The EIP-712 digest of the dispatch, which identifies the transfer.
     */
    function dispatch(Dispatch calldata d, bytes calldata signature) external returns (bytes32 transferId) {
        _checkQuantity(d.quantity);
        if (d.shipper == d.receiver) revert SelfTransfer(d.shipper);
        if (bytes(d.wasteCode).length == 0) revert EmptyField("wasteCode");
        if (bytes(d.unit).length == 0) revert EmptyField("unit");
        registry.requireActive(d.shipper, _SHIPPER);
        registry.requireActive(d.receiver, _RECEIVER);
        transferId = _useSignedMessage(d.shipper, _hashDispatch(d), d.nonce, d.deadline, signature);

        // A new id cannot collide with a recorded one: the digest binds the shipper's nonce, consumed above.
        _transfers[transferId] = Transfer({
            shipper: d.shipper,
            status: Status.Dispatched,
            quantity: d.quantity,
            receiver: d.receiver,
            receivedQuantity: 0
        });
        emit TransferDispatched(
            transferId, d.shipper, d.receiver, d.lotId, d.wasteCode, d.quantity, d.unit, d.documentHash, d.nonce
        );
    }

    /**
     * @notice Records the named receiver's signed receipt of a dispatched transfer.
     * @param r The Receipt statement: the transfer id, the receiver (the one named in the dispatch), the
     * quantity it measured (a positive integer in the dispatch's unit), its nonce and the deadline.
     * @param signature The receiver's EIP-712 signature of `r`.
     */
    function confirmReceipt(Receipt calldata r, bytes calldata signature) external {
        Transfer storage t = _transfers[r.transferId];
        if (t.status != Status.Dispatched) revert TransferNotDispatched(r.transferId, t.status);
        if (r.receiver != t.receiver) revert NotNamedReceiver(r.transferId, r.receiver);
        _checkQuantity(r.receivedQuantity);
        registry.requireActive(r.receiver, _RECEIVER);
        bytes32 structHash = keccak256(
            abi.encode(_RECEIPT_TYPEHASH, r.transferId, r.receiver, r.receivedQuantity, r.nonce, r.deadline)
        );
        _useSignedMessage(r.receiver, structHash, r.nonce, r.deadline, signature);

        t.status = Status.Received;
        t.receivedQuantity = r.receivedQuantity;
        emit TransferReceived(r.transferId, r.receiver, r.receivedQuantity, r.nonce);
    }

    /**
     * @notice The stored state of a transfer (all zero if no such transfer was dispatched).
     * @param transferId The transfer's id.
     */
    function transfer(bytes32 transferId) external view returns (Transfer memory) {
        return _transfers[transferId];
    }

    function _hashDispatch(Dispatch calldata d) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _DISPATCH_TYPEHASH,
                d.shipper,
                d.receiver,
                d.lotId,
                keccak256(bytes(d.wasteCode)),
                d.quantity,
                keccak256(bytes(d.unit)),
                d.documentHash,
                d.nonce,
                d.deadline
            )
        );
    }

    function _checkQuantity(uint64 quantity) private pure {
        if (quantity == 0) revert ZeroQuantity();
        if (quantity > _MAX_QUANTITY) revert QuantityTooLarge(quantity, _MAX_QUANTITY);
    }
}
