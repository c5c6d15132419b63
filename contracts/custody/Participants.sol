// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {SignedMessages} from "../utils/SignedMessages.sol";

/**
 * @title Participants
 * @notice The firms, labs, park operators and regulators allowed to make statements on the ledger, and
 * their roles. Only a regulator can register, suspend or reinstate a participant, and does so by signing
 * an EIP-712 statement that any relayer may submit: the regulator needs no ether and the relayer cannot
 * act without the regulator's signature.
 */
abstract contract Participants is IParticipantRegistry, SignedMessages {
    // Role bits, as the roles mask of a participant holds them (and roles.py in the service).
    uint16 internal constant REGULATOR = 1 << 0;
    uint16 internal constant PARK_OPERATOR = 1 << 1;
    uint16 internal constant SHIPPER = 1 << 2;
    uint16 internal constant RECEIVER = 1 << 3;
    uint16 internal constant TRANSPORTER = 1 << 4;
    uint16 internal constant LAB = 1 << 5;
    uint16 private constant _ALL_ROLES = (1 << 6) - 1;

    enum ParticipantStatus {
        None,
        Active,
        Suspended
    }

    struct Participant {
        uint16 roles;
        ParticipantStatus status;
    }

    /// @dev The RegisterParticipant statement, field for field as the regulator signs it.
    struct Registration {
        address regulator;
        address participant;
        uint16 roles;
        string legalName;
        string enterpriseId;
        string park;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The SetParticipantStatus statement, field for field as the regulator signs it.
    struct StatusChange {
        address regulator;
        address participant;
        bool suspended;
        string reason;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 private constant _REGISTER_TYPEHASH = keccak256(
        "RegisterParticipant(address regulator,address participant,uint16 roles,string legalName,"
        "string enterpriseId,string park,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _SET_STATUS_TYPEHASH = keccak256(
        "SetParticipantStatus(address regulator,address participant,bool suspended,string reason,"
        "uint256 nonce,uint256 deadline)"
    );

    mapping(address account => Participant) private _participants;

    /// @notice A participant was registered by `regulator` (the zero address for the founding regulator).
    event ParticipantRegistered(
        address indexed participant,
        address indexed regulator,
        uint16 roles,
        string legalName,
        string enterpriseId,
        string park
    );
    /// @notice A participant was suspended; its statements are refused until it is reinstated.
    event ParticipantSuspended(address indexed participant, address indexed regulator, string reason);
    /// @notice A suspended participant was reinstated.
    event ParticipantReinstated(address indexed participant, address indexed regulator, string reason);

    /// @dev The account is already registered.
    error AlreadyRegistered(address account);
    /// @dev `roles` is empty or holds bits that name no role.
    error InvalidRoles(uint16 roles);
    /// @dev The zero address cannot be a participant.
    error ZeroAddress();
    /// @dev The participant already has the status the statement asks for.
    error StatusUnchanged(address account, ParticipantStatus status);
    /// @dev A regulator cannot suspend itself (that could leave the registry without a regulator).
    error SelfSuspension(address regulator);

    /**
     * @param foundingRegulator The first regulator; it registers every other participant.
     * @param legalName The founding regulator's legal name, recorded in the registration event.
     */
    constructor(address foundingRegulator, string memory legalName) {
        if (foundingRegulator == address(0)) revert ZeroAddress();
        _participants[foundingRegulator] = Participant({roles: REGULATOR, status: ParticipantStatus.Active});
        emit ParticipantRegistered(foundingRegulator, address(0), REGULATOR, legalName, "", "");
    }

    /**
     * @notice Registers a participant with its roles, on the signed word of an active regulator.
     * @param r The RegisterParticipant statement: the regulator who signed it, the participant's account,
     * its roles (a bit set of the role constants), legal name, enterprise or tax id, eco-industrial park
     * (empty for regulators), the regulator's nonce and the deadline (unix seconds) for recording it.
     * @param signature The regulator's EIP-712 signature of `r`.
     */
    function registerParticipant(Registration calldata r, bytes calldata signature) external {
        if (r.participant == address(0)) revert ZeroAddress();
        if (r.roles == 0 || r.roles & ~_ALL_ROLES != 0) revert InvalidRoles(r.roles);
        if (_participants[r.participant].status != ParticipantStatus.None) revert AlreadyRegistered(r.participant);
        _requireActive(r.regulator, REGULATOR);
        bytes32 structHash = keccak256(
            abi.encode(
                _REGISTER_TYPEHASH,
                r.regulator,
                r.participant,
                r.roles,
                keccak256(bytes(r.legalName)),
                keccak256(bytes(r.enterpriseId)),
                keccak256(bytes(r.park)),
                r.nonce,
                r.deadline
            )
        );
        _useSignedMessage(r.regulator, structHash, r.nonce, r.deadline, signature);

        _participants[r.participant] = Participant({roles: r.roles, status: ParticipantStatus.Active});
        emit ParticipantRegistered(r.participant, r.regulator, r.roles, r.legalName, r.enterpriseId, r.park);
    }

    /**
     * @notice Suspends or reinstates a participant, on the signed word of an active regulator.
     * @param c The SetParticipantStatus statement: the regulator who signed it, the participant, whether
     * to suspend (true) or reinstate (false), the reason, the regulator's nonce and the deadline.
     * @param signature The regulator's EIP-712 signature of `c`.
     */
    function setParticipantStatus(StatusChange calldata c, bytes calldata signature) external {
        Participant storage p = _participants[c.participant];
        if (p.status == ParticipantStatus.None) revert UnregisteredParticipant(c.participant);
        ParticipantStatus next = c.suspended ? ParticipantStatus.Suspended : ParticipantStatus.Active;
        if (p.status == next) revert StatusUnchanged(c.participant, next);
        if (c.suspended && c.participant == c.regulator) revert SelfSuspension(c.regulator);
        _requireActive(c.regulator, REGULATOR);
        bytes32 structHash = keccak256(
            abi.encode(
                _SET_STATUS_TYPEHASH,
                c.regulator,
                c.participant,
                c.suspended,
                keccak256(bytes(c.reason)),
                c.nonce,
                c.deadline
            )
        );
        _useSignedMessage(c.regulator, structHash, c.nonce, c.deadline, signature);

        p.status = next;
        if (c.suspended) {
            emit ParticipantSuspended(c.participant, c.regulator, c.reason);
        } else {
            emit ParticipantReinstated(c.participant, c.regulator, c.reason);
        }
    }

    /// @inheritdoc IParticipantRegistry
    function requireActive(address account, uint16 role) external view {
        _requireActive(account, role);
    }

    /**
     * @notice The roles and status of `account` (zero roles and status None if unregistered).
     * @param account The account to look up.
     */
    function participant(address account) external view returns (uint16 roles, ParticipantStatus status) {
        Participant storage p = _participants[account];
        return (p.roles, p.status);
    }

    function _requireActive(address account, uint16 role) internal view {
        Participant storage p = _participants[account];
        if (p.status == ParticipantStatus.None) revert UnregisteredParticipant(account);
        if (p.status == ParticipantStatus.Suspended) revert SuspendedParticipant(account);
        if (p.roles & role != role) revert MissingRole(account, role);
    }
}
