// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IPermitRegistry
 * @notice The waste-code catalogue and permit terms, as other contracts read them from the ledger: a code's
 * catalogue entry, and a permit's terms for one code.
 */
interface IPermitRegistry {
    /// @dev Units a waste code's quantities are declared in (UN/CEFACT codes KGM, LTR, KWH).
    enum Unit {
        Kilogram,
        Litre,
        KilowattHour
    }

    /// @dev Kinds of authorisation.
    enum PermitKind {
        None,
        EnvironmentalPermit,
        HazardousWasteTransportLicence,
        LabAccreditation
    }

    /// @dev A waste code of the catalogue: its sequential id, unit and hazardous flag.
    struct WasteCode {
        uint32 id;
        Unit unit;
        bool hazardous;
    }

    /// @dev A permit's terms as they bear on one waste code.
    struct PermitTerms {
        address holder;
        PermitKind kind;
        uint40 validFrom;
        uint40 validUntil;
        bool revoked;
        uint64 yearlyCapacity;
        /// Operations allowed for the code: bit i-1 for R1..R13 (i = 1..13), bit 12+i for D1..D15.
        uint32 operations;
    }

    /// @dev No waste code with this key (keccak256 of the scheme's and the code's hashes) is registered.
    error UnknownWasteCode(bytes32 codeKey);
    /// @dev No permit with this id is registered.
    error UnknownPermit(bytes32 permitId);

    /**
     * @notice The catalogue entry of a waste code; reverts with UnknownWasteCode if there is none.
     * @param codeKey keccak256(abi.encode(keccak256(bytes(scheme)), keccak256(bytes(code)))).
     */
    function wasteCode(bytes32 codeKey) external view returns (WasteCode memory);

    /**
     * @notice A permit's terms for one waste code (operations 0 when the code is not covered);
     * reverts with UnknownPermit if there is no such permit.
     * @param permitId The permit's id (keccak256 of its number as issued).
     * @param codeId The waste code's catalogue id.
     */
    function permitTerms(bytes32 permitId, uint32 codeId) external view returns (PermitTerms memory);
}
