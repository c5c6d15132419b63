// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ITransferRecords
 * @notice The ledger's stored state of a transfer, as other contracts read it (SymbiosisLedger's `transfer`,
 * custody/Transfers.sol, whose Transfer struct TransferRecord mirrors word for word).
 */
interface ITransferRecords {
    /// @dev A transfer as the ledger stores it: its receiver, where it stands (Transfers.TransferStatus; 0,
    /// None, for an unknown transfer), the quantity shipped in the lot's unit and the waste code's catalogue id.
    struct TransferRecord {
        address receiver;
        uint8 status;
        uint56 quantity;
        uint32 codeId;
    }

    /**
     * @notice The stored state of a transfer (all zero if no such transfer was dispatched).
     * @param transferId The transfer's id.
     */
    function transfer(bytes32 transferId) external view returns (TransferRecord memory);
}
