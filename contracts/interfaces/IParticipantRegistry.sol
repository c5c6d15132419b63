// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IParticipantRegistry
 * @notice The participants' standing, as other contracts read it from the ledger.
 */
interface IParticipantRegistry {
    /// @dev The account was never registered as a participant.
    error UnregisteredParticipant(address account);
    /// @dev The participant is registered but suspended by a regulator.
    error SuspendedParticipant(address account);
    /// @dev The participant is active but does not hold `role`.
    error MissingRole(address account, uint16 role);

    /**
     * @notice Reverts unless `account` is a registered, active participant holding every role in `role`.
     * @param account The participant to check.
     * @param role A role bit (or several) from the registry's role constants.
     */
    function requireActive(address account, uint16 role) external view;
}
