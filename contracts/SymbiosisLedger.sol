// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Lots} from "./custody/Lots.sol";
import {Participants} from "./custody/Participants.sol";
import {Corrections} from "./custody/Corrections.sol";
import {Processing} from "./processing/Processing.sol";

/**
 * @title SymbiosisLedger
 * @notice The ledger of waste-to-resource transfers: participants and their roles, the waste-code catalogue
 * and permits, lots, certificates, transfers with their transport legs, rejections and returns, corrections;
 * each module in its own contract file (custody/), deployed as one contract. One deployment keeps the checks
 * a dispatch needs (the parties' standing, the receiver's permit, the lot's balance) in one place: no call
 * from contract to contract on the hot path, and one EIP-712 domain for every custody statement. Processing
 * and final use (contracts/processing) are a contract of their own, created here, for the size limit.
 */
contract SymbiosisLedger is Corrections {
    /**
     * @param foundingRegulator The first regulator; it registers every other participant.
     * @param legalName The founding regulator's legal name, recorded in its registration event.
     * @dev Creates the processing module (its address is then fixed, see `processing`): the module keeps the
     * ledger's address and does not call it while this constructor runs, when the ledger has no code yet.
     */
    constructor(address foundingRegulator, string memory legalName)
        EIP712("SymbiosisLedger", "1")
        Participants(foundingRegulator, legalName)
        Lots(address(new Processing(address(this))))
    {}
}
