// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Participants} from "./custody/Participants.sol";
import {Corrections} from "./custody/Corrections.sol";

/**
 * @title SymbiosisLedger
 * @notice The ledger of waste-to-resource transfers: participants and their roles, the waste-code catalogue
 * and permits, lots and their transfers, rejections and returns, corrections, each module in its own contract file (custody/) and deployed as one
 * contract. One deployment keeps the checks a dispatch needs (the parties' standing, the receiver's permit,
 * the lot's balance) in one place: no call from contract to contract on the hot path, and one EIP-712
 * domain for every statement a party signs.
 */
contract SymbiosisLedger is Corrections {
    /**
     * @param foundingRegulator The first regulator; it registers every other participant.
     * @param legalName The founding regulator's legal name, recorded in its registration event.
     */
    constructor(address foundingRegulator, string memory legalName)
        EIP712("SymbiosisLedger", "1")
        Participants(foundingRegulator, legalName)
    {}
}
