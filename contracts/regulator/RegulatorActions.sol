// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {ITransferRecords} from "../interfaces/ITransferRecords.sol";
import {SignedMessages} from "../utils/SignedMessages.sol";

/**
 * @title RegulatorActions
 * @notice What a regulator asks of the parties after reviewing the ledger, recorded on chain on the regulator's
 * signed word: a correction request asks the parties of a transfer to correct its record (the parties then
 * propose and countersign the correction on the ledger). Deployed beside SymbiosisLedger, which it asks for the
 * regulator's standing and for the transfer; the ledger does not know it (its size is at the EIP-170 limit).
 *
 * A request changes no state but the regulator's nonce: the request is its CorrectionRequested event, and its
 * id is the EIP-712 digest of the statement. Its nonce is consumed, so the very statement cannot be recorded
 * twice, while the regulator can ask again for the same transfer with a new nonce.
 */
contract RegulatorActions is SignedMessages {
    /// @dev SymbiosisLedger's REGULATOR role bit (custody/Participants.sol).
    uint16 private constant _REGULATOR = 1 << 0;

    /// @dev The CorrectionRequest statement, field for field as the regulator signs it.
    struct CorrectionRequest {
        address regulator;
        bytes32 transferId;
        string reason;
        bytes32 reportHash;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 private constant _CORRECTION_REQUEST_TYPEHASH = keccak256(
        "CorrectionRequest(address regulator,bytes32 transferId,string reason,bytes32 reportHash,uint256 nonce,"
        "uint256 deadline)"
    );

    /// @dev The deployed SymbiosisLedger: the participant registry and the record of transfers.
    address private immutable _ledger;

    /// @notice `regulator` asked the parties of transfer `transferId` to correct its record, for `reason`, citing
    /// the report whose SHA-256 is `reportHash` (zero if none).
    event CorrectionRequested(
        bytes32 indexed requestId,
        bytes32 indexed transferId,
        address indexed regulator,
        string reason,
        bytes32 reportHash
    );

    /// @dev No transfer with this id was dispatched on the ledger.
    error UnknownTransfer(bytes32 transferId);
    /// @dev A required text field of the statement is empty.
    error EmptyField(string field);
    /// @dev The ledger's address cannot be the zero address.
    error ZeroAddress();

    /**
     * @param ledger_ The deployed SymbiosisLedger: it says who is an active regulator and which transfers exist.
     */
    constructor(address ledger_) EIP712("SymbiosisRegulatorActions", "1") {
        if (ledger_ == address(0)) revert ZeroAddress();
        _ledger = ledger_;
    }

    /**
     * @notice Records a regulator's signed request to the parties of a transfer to correct its record.
     * @dev The regulator must be an active REGULATOR (the ledger's UnregisteredParticipant, SuspendedParticipant
     * or MissingRole otherwise) and the transfer must exist on the ledger. Consumes the regulator's nonce.
     * @param r The CorrectionRequest statement: the regulator, the transfer's id, the reason (not empty), the
     * SHA-256 of the report that found the error (zero if none), the regulator's nonce and the deadline.
     * @param signature The regulator's EIP-712 signature of `r`.
     * @return requestId The EIP-712 digest of the statement, which identifies the request.
     */
    function requestCorrection(CorrectionRequest calldata r, bytes calldata signature)
        external
        returns (bytes32 requestId)
    {
        if (bytes(r.reason).length == 0) revert EmptyField("reason");
        IParticipantRegistry(_ledger).requireActive(r.regulator, _REGULATOR);
        if (ITransferRecords(_ledger).transfer(r.transferId).status == 0) revert UnknownTransfer(r.transferId);
        bytes32 structHash = keccak256(
            abi.encode(
                _CORRECTION_REQUEST_TYPEHASH,
                r.regulator,
                r.transferId,
                keccak256(bytes(r.reason)),
                r.reportHash,
                r.nonce,
                r.deadline
            )
        );
        requestId = _useSignedMessage(r.regulator, structHash, r.nonce, r.deadline, signature);

        emit CorrectionRequested(requestId, r.transferId, r.regulator, r.reason, r.reportHash);
    }

    /**
     * @notice The ledger this contract asks for the regulator's standing and for transfers.
     */
    function ledger() external view returns (address) {
        return _ledger;
    }
}
