// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Lots} from "./Lots.sol";

/**
 * @title Certificates
 * @notice Certificates of analysis: a registered lab, holding a valid accreditation, signs a certificate bound to
 * one lot (the hashes of the certificate document and of its results, and how long it is valid); it may revoke
 * it later, and so may any active regulator. A dispatch that cites a certificate is refused if the certificate
 * is revoked, expired, or bound to another lot than the one shipped.
 *
 * A certificate is identified by the EIP-712 digest of its issuing statement. It is stored under the hash of
 * its id and its lot, so that one storage read both finds it and proves it is bound to the lot a dispatch
 * ships: a certificate cited with another lot is simply not there.
 */
abstract contract Certificates is Lots {
    /// @dev One slot: who issued it, until when it is valid, and whether it was revoked.
    struct Certificate {
        address lab;
        uint40 validUntil;
        bool revoked;
    }

    /// @dev The IssueCertificate statement, field for field as the lab signs it.
    struct Issuance {
        address lab;
        bytes32 lotId;
        bytes32 accreditationId;
        bytes32 documentHash;
        bytes32 resultsHash;
        uint64 validUntil;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The RevokeCertificate statement, field for field as its signer signs it: `lab` names the signer,
    /// the issuing lab or a regulator.
    struct CertificateRevocation {
        address lab;
        bytes32 certificateId;
        bytes32 lotId;
        string reason;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 private constant _ISSUE_CERTIFICATE_TYPEHASH = keccak256(
        "IssueCertificate(address lab,bytes32 lotId,bytes32 accreditationId,bytes32 documentHash,"
        "bytes32 resultsHash,uint64 validUntil,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _REVOKE_CERTIFICATE_TYPEHASH = keccak256(
        "RevokeCertificate(address lab,bytes32 certificateId,bytes32 lotId,string reason,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 certificateAndLot => Certificate) private _certificates;

    /// @notice `lab` certified lot `lotId` under accreditation `accreditationId`, valid until `validUntil`.
    event CertificateIssued(
        bytes32 indexed certificateId,
        bytes32 indexed lotId,
        address indexed lab,
        bytes32 accreditationId,
        bytes32 documentHash,
        bytes32 resultsHash,
        uint64 validUntil
    );
    /// @notice A certificate was revoked by `lab`: the issuing lab, or a regulator. Dispatches can no longer cite it.
    event CertificateRevoked(bytes32 indexed certificateId, bytes32 indexed lotId, address indexed lab, string reason);

    /// @dev The accreditation is not a valid, unrevoked lab accreditation held by the lab.
    error NotAccredited(address lab, bytes32 accreditationId);
    /// @dev A certificate must be valid for some time after it is issued.
    error CertificateValidityPassed(uint64 validUntil);
    /// @dev No certificate with this id is bound to this lot.
    error CertificateNotForLot(bytes32 certificateId, bytes32 lotId);
    /// @dev The certificate was revoked.
    error RevokedCertificate(bytes32 certificateId);
    /// @dev The certificate's validity ended at `validUntil`.
    error CertificateExpired(bytes32 certificateId, uint256 validUntil);

    /**
     * @notice Records a lab's signed certificate of analysis for a lot.
     * @dev The lab must be an active LAB holding `accreditationId`, a lab accreditation valid now and not
     * revoked; the lot must exist.
     * @param c The IssueCertificate statement: lab, lot id, the lab's accreditation id, SHA-256 of the certificate
     * document and of its results, the end of its validity (unix seconds), a nonce making the statement
     * unique, and the deadline for recording it.
     * @param signature The lab's EIP-712 signature of `c`.
     * @return certificateId The EIP-712 digest of the statement, which identifies the certificate.
     */
    function issueCertificate(Issuance calldata c, bytes calldata signature) external returns (bytes32 certificateId) {
        if (c.validUntil <= block.timestamp || c.validUntil > type(uint40).max) {
            revert CertificateValidityPassed(c.validUntil);
        }
        _requireActive(c.lab, LAB);
        if (!_holdsValid(c.accreditationId, c.lab, PermitKind.LabAccreditation)) {
            revert NotAccredited(c.lab, c.accreditationId);
        }
        if (!_lotExists(c.lotId)) revert UnknownLot(c.lotId);
        certificateId = _verifySigned(c.lab, _hashIssuance(c), c.deadline, signature);
        Certificate storage certificate = _certificates[_certificateKey(certificateId, c.lotId)];
        if (certificate.lab != address(0)) revert AlreadyRecorded(certificateId);

        certificate.lab = c.lab;
        certificate.validUntil = uint40(c.validUntil);
        emit CertificateIssued(
            certificateId, c.lotId, c.lab, c.accreditationId, c.documentHash, c.resultsHash, c.validUntil
        );
    }

    /**
     * @notice Revokes a certificate on the signed word of the lab that issued it or of a regulator.
     * @dev A regulator revokes with the same RevokeCertificate statement, naming itself in its `lab` field. A
     * signer other than the issuing lab must be an active REGULATOR: it is refused UnregisteredParticipant,
     * SuspendedParticipant or MissingRole otherwise. The issuing lab need not still be active: it may withdraw
     * its own word.
     * @param r The RevokeCertificate statement: its signer (the issuing lab or an active regulator),
     * certificate id, the lot it is bound to, the reason, a nonce making the statement unique (not consumed:
     * a certificate is revoked once) and the deadline.
     * @param signature The signer's EIP-712 signature of `r`.
     */
    function revokeCertificate(CertificateRevocation calldata r, bytes calldata signature) external {
        Certificate storage certificate = _certificates[_certificateKey(r.certificateId, r.lotId)];
        if (certificate.lab == address(0)) revert CertificateNotForLot(r.certificateId, r.lotId);
        // Anyone but the issuing lab must be an active regulator: the registry's own check, whose refusals say
        // why, costs the ledger no code (it is at the EIP-170 limit) where a test of its own would.
        if (certificate.lab != r.lab) _requireActive(r.lab, REGULATOR);
        if (certificate.revoked) revert RevokedCertificate(r.certificateId);
        bytes32 structHash = keccak256(
            abi.encode(
                _REVOKE_CERTIFICATE_TYPEHASH,
                r.lab,
                r.certificateId,
                r.lotId,
                keccak256(bytes(r.reason)),
                r.nonce,
                r.deadline
            )
        );
        // A revocation is final: the revoked flag stops a replay, and no nonce slot need be spent on it.
        _verifySigned(r.lab, structHash, r.deadline, signature);

        certificate.revoked = true;
        emit CertificateRevoked(r.certificateId, r.lotId, r.lab, r.reason);
    }

    /**
     * @notice A certificate as bound to a lot (all zero if no such certificate is bound to that lot).
     * @param certificateId The certificate's id.
     * @param lotId The lot it is bound to.
     */
    function certificate(bytes32 certificateId, bytes32 lotId) external view returns (Certificate memory) {
        return _certificates[_certificateKey(certificateId, lotId)];
    }

    /// @dev Reverts unless every certificate is bound to `lotId`, unrevoked and still valid.
    function _checkCertificates(bytes32[] calldata certificateIds, bytes32 lotId) internal view {
        for (uint256 i; i < certificateIds.length; ++i) {
            Certificate storage c = _certificates[_certificateKey(certificateIds[i], lotId)];
            (address lab, uint40 validUntil, bool revoked) = (c.lab, c.validUntil, c.revoked);
            if (lab == address(0)) revert CertificateNotForLot(certificateIds[i], lotId);
            if (revoked) revert RevokedCertificate(certificateIds[i]);
            if (block.timestamp > validUntil) revert CertificateExpired(certificateIds[i], validUntil);
        }
    }

    function _hashIssuance(Issuance calldata c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _ISSUE_CERTIFICATE_TYPEHASH,
                c.lab,
                c.lotId,
                c.accreditationId,
                c.documentHash,
                c.resultsHash,
                c.validUntil,
                c.nonce,
                c.deadline
            )
        );
    }

    function _certificateKey(bytes32 certificateId, bytes32 lotId) private pure returns (bytes32) {
        return keccak256(abi.encode(certificateId, lotId));
    }
}
