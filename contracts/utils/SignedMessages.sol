// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/**
 * @title SignedMessages
 * @notice Verification of EIP-712 statements signed by parties who never send transactions themselves:
 * a relayer submits them, the contract checks who signed, that the statement is still in time and that
 * it has not been recorded before.
 *
 * Two ways to stop a replay. A statement that creates a record keyed by its own digest (a lot, a
 * transfer) needs nothing more: recording it twice fails on the existing record, and its nonce only
 * makes otherwise identical statements distinct (`_verifySigned`); so does a final one-way change (a
 * revocation), which cannot be made twice. A statement that changes existing state both ways (a suspension,
 * then a reinstatement) consumes its nonce (`_useSignedMessage`). Nonces are unordered (a
 * bitmap per signer, as in Uniswap's Permit2): a party can sign several statements at once, they can be
 * recorded in any order, and one that fails does not invalidate the ones signed after it.
 *
 * A firm may sign with an externally owned key or with a contract wallet (ERC-1271, e.g. a multisig). The
 * key's signature is tried first: recovering an address costs the same warm or cold, while asking whether
 * the signer has code (as OpenZeppelin's SignatureChecker does first) costs a cold account access, 2,600
 * gas, on every statement of a key-holding party. Only a signature that does not recover to the signer is
 * then put to the signer's contract, if it has one.
 */
abstract contract SignedMessages is EIP712 {
    mapping(address signer => mapping(uint256 word => uint256 bits)) private _nonceBitmaps;

    /// @dev The statement's deadline (unix seconds) has passed.
    error SignatureExpired(uint256 deadline);
    /// @dev The signer already used this nonce for a statement recorded in this contract.
    error NonceAlreadyUsed(address signer, uint256 nonce);
    /// @dev The signature is not the named signer's signature of this statement.
    error InvalidSignature(address signer);
    /// @dev This very statement (same digest) was recorded already: a replay.
    error AlreadyRecorded(bytes32 id);

    /**
     * @notice Whether `signer` has already used `nonce` in this contract.
     * @param signer The party that signs statements.
     * @param nonce The nonce to look up.
     */
    function nonceUsed(address signer, uint256 nonce) external view returns (bool) {
        return _nonceBitmaps[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /**
     * @notice The EIP-712 domain separator that signatures for this contract are bound to.
     */
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /**
     * @dev Checks the deadline, consumes the nonce and verifies `signature` as `signer`'s signature of the
     * EIP-712 message with struct hash `structHash`. Returns the message digest, which identifies the
     * statement (it binds the chain id, this contract, the signer and the nonce).
     */
    function _useSignedMessage(
        address signer,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) internal returns (bytes32 digest) {
        _useNonce(signer, nonce);
        return _verifySigned(signer, structHash, deadline, signature);
    }

    /**
     * @dev Checks the deadline and verifies `signature` as `signer`'s signature of the EIP-712 message with
     * struct hash `structHash`, without consuming a nonce. Returns the message digest.
     */
    function _verifySigned(address signer, bytes32 structHash, uint256 deadline, bytes calldata signature)
        internal
        view
        returns (bytes32 digest)
    {
        digest = _hashTypedDataV4(structHash);
        _verifySignedDigest(signer, digest, deadline, signature);
    }

    /**
     * @dev As `_verifySigned`, for a statement whose digest was computed (and kept) when it was first
     * recorded: a second party's signature of the same statement.
     */
    function _verifySignedDigest(address signer, bytes32 digest, uint256 deadline, bytes calldata signature)
        internal
        view
    {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        (address recovered, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error == ECDSA.RecoverError.NoError && recovered == signer) return;
        if (signer.code.length == 0 || !SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, signature)) {
            revert InvalidSignature(signer);
        }
    }

    function _useNonce(address signer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        mapping(uint256 => uint256) storage bitmap = _nonceBitmaps[signer];
        uint256 bits = bitmap[nonce >> 8];
        if (bits & bit != 0) revert NonceAlreadyUsed(signer, nonce);
        bitmap[nonce >> 8] = bits | bit;
    }
}
