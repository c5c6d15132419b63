// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ILotCustody
 * @notice What the processing module (contracts/processing/Processing.sol) may do to lots on the ledger: take
 * a quantity out of a lot its holder signed for, and open a new lot. The ledger creates the module in its
 * constructor and refuses both hooks to any other caller, so a lot's balance still changes only on a party's
 * signature, verified by the ledger or by the module whose code was fixed at the ledger's deployment.
 */
interface ILotCustody {
    /// @dev Only the processing module created with the ledger may call the lot hooks.
    error NotProcessingModule(address caller);

    /**
     * @notice Takes `quantity` out of lot `lotId`, which `holder` must hold. Reverts with the ledger's errors
     * UnknownLot, NotLotHolder, InsufficientLotBalance, ZeroQuantity or QuantityTooLarge.
     * @param lotId The lot's id.
     * @param holder The party whose signed statement the module verified (the lot's holder).
     * @param quantity A positive integer in the lot's unit.
     * @return codeId The lot's waste-code catalogue id.
     */
    function takeFromLot(bytes32 lotId, address holder, uint64 quantity) external returns (uint32 codeId);

    /**
     * @notice Opens lot `lotId` of `quantity` of code `codeId` for `holder`. Reverts with AlreadyRecorded if
     * a lot with that id exists, ZeroQuantity or QuantityTooLarge.
     * @param lotId The new lot's id.
     * @param holder Who holds the new lot.
     * @param quantity A positive integer in the code's unit.
     * @param codeId The code's catalogue id.
     */
    function openLot(bytes32 lotId, address holder, uint64 quantity, uint32 codeId) external;
}
