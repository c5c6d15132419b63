// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ILotCustody} from "../interfaces/ILotCustody.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IPermitRegistry} from "../interfaces/IPermitRegistry.sol";
import {SignedMessages} from "../utils/SignedMessages.sol";

/**
 * @title Processing
 * @notice Processing and final use of lots. A processor's signed statement turns input lots it holds (plus any
 * declared external inputs: virgin material) into output lots it then holds (products, by-products, residues)
 * with declared losses; a product or by-product can later be declared used, which closes its chain. Residues
 * are still waste: they leave only by dispatch to a permitted receiver.
 *
 * Mass balance is kept in grams: every input and output states its unit's conversion (grams per unit: 1000 for
 * a code in kilograms, the density in g/L for a code in litres; a code in kilowatt-hours has no mass and cannot
 * be processed here), and outputs plus losses may never exceed lot inputs plus external inputs. The conversions
 * are part of the signed statement and of the ProcessingRecorded event.
 *
 * The ledger creates this module in its constructor and lets only it call its lot hooks (ILotCustody); the
 * module reads standing and the code catalogue from the ledger and has an EIP-712 domain of its own. A
 * processing is identified by the EIP-712 digest of its statement; its output `i` is the ledger lot
 * keccak256(abi.encode(processingId, i)).
 */
contract Processing is SignedMessages {
    /// @dev What a processing output is; None marks a lot no processing opened.
    enum OutputKind {
        None,
        Product,
        ByProduct,
        Residue
    }

    /// @dev A lot the processor puts in: the lot's code as catalogued (the lot itself knows only the code's id),
    /// the quantity taken (in the code's unit) and the unit's conversion to grams.
    struct LotInput {
        bytes32 lotId;
        bytes32 codeKey;
        uint64 quantity;
        uint32 gramsPerUnit;
    }

    /// @dev Material from outside the ledger (virgin material, additives), in grams, with its delivery document.
    struct ExternalInput {
        string material;
        uint64 grams;
        bytes32 documentHash;
    }

    /// @dev An output lot: its kind (1 Product, 2 ByProduct, 3 Residue), catalogued code, quantity in the
    /// code's unit and the unit's conversion to grams.
    struct ProcessOutput {
        uint8 kind;
        bytes32 codeKey;
        uint64 quantity;
        uint32 gramsPerUnit;
    }

    /// @dev The RecordProcessing statement, field for field as the processor signs it.
    struct ProcessingRecord {
        address processor;
        LotInput[] inputs;
        ExternalInput[] externalInputs;
        ProcessOutput[] outputs;
        uint64 lossGrams;
        string lossDescription;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The DeclareUse statement, field for field as the lot's holder signs it.
    struct UseDeclaration {
        address holder;
        bytes32 lotId;
        uint64 quantity;
        string use;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 private constant _LOT_INPUT_TYPEHASH =
        keccak256("LotInput(bytes32 lotId,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)");
    bytes32 private constant _EXTERNAL_INPUT_TYPEHASH =
        keccak256("ExternalInput(string material,uint64 grams,bytes32 documentHash)");
    bytes32 private constant _PROCESS_OUTPUT_TYPEHASH =
        keccak256("ProcessOutput(uint8 kind,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)");
    // Referenced struct types follow the primary type in alphabetical order (EIP-712 encodeType).
    bytes32 private constant _RECORD_PROCESSING_TYPEHASH = keccak256(
        "RecordProcessing(address processor,LotInput[] inputs,ExternalInput[] externalInputs,"
        "ProcessOutput[] outputs,uint64 lossGrams,string lossDescription,bytes32 documentHash,uint256 nonce,"
        "uint256 deadline)ExternalInput(string material,uint64 grams,bytes32 documentHash)"
        "LotInput(bytes32 lotId,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)"
        "ProcessOutput(uint8 kind,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)"
    );
    bytes32 private constant _DECLARE_USE_TYPEHASH = keccak256(
        "DeclareUse(address holder,bytes32 lotId,uint64 quantity,string use,bytes32 documentHash,uint256 nonce,"
        "uint256 deadline)"
    );
    /// @dev Participants' RECEIVER role bit (custody/Participants.sol): the role that holds received lots.
    uint16 private constant _RECEIVER = 1 << 3;
    uint32 private constant _GRAMS_PER_KILOGRAM = 1000;

    /// @notice The ledger that created this module: participant registry, code catalogue and lot custody.
    address public immutable ledger;

    mapping(bytes32 lotId => OutputKind) private _outputKinds;

    /// @notice `processor` turned lot inputs and external inputs (`inputGrams` in all) into outputs
    /// (`outputGrams`) and `lossGrams` of losses; each input and output carries its unit's conversion.
    event ProcessingRecorded(
        bytes32 indexed processingId,
        address indexed processor,
        LotInput[] inputs,
        ExternalInput[] externalInputs,
        ProcessOutput[] outputs,
        uint64 lossGrams,
        string lossDescription,
        uint256 inputGrams,
        uint256 outputGrams,
        bytes32 documentHash
    );
    /// @notice Processing `processingId` opened lot `lotId` of `quantity` of code `codeKey` for `holder`.
    event OutputLotOpened(
        bytes32 indexed lotId,
        bytes32 indexed processingId,
        address indexed holder,
        OutputKind kind,
        bytes32 codeKey,
        uint64 quantity
    );
    /// @notice The holder of product or by-product lot `lotId` put `quantity` of it to its final use.
    event LotUsed(
        bytes32 indexed lotId, address indexed holder, bytes32 indexed useId, uint64 quantity, string use, bytes32 documentHash
    );

    /// @dev A processing needs at least one lot input and one output.
    error EmptyProcessing(uint256 inputs, uint256 outputs);
    /// @dev An output's kind must be 1 (Product), 2 (ByProduct) or 3 (Residue).
    error InvalidOutputKind(uint256 index, uint8 kind);
    /// @dev The lot's waste code is not the code the statement names for it.
    error LotCodeMismatch(bytes32 lotId, bytes32 codeKey);
    /// @dev The code's unit (kilowatt-hours) has no mass: it cannot be a processing input or output.
    error MasslessUnit(bytes32 codeKey);
    /// @dev A code in kilograms converts at 1000 g per unit; a code in litres needs its density (g/L, > 0).
    error InvalidConversion(bytes32 codeKey, uint32 gramsPerUnit);
    /// @dev Outputs plus losses (`producedAndLost` grams) exceed lot and external inputs (`available` grams).
    error MassBalanceExceeded(uint256 producedAndLost, uint256 available);
    /// @dev Output `index` is a product or by-product under a hazardous code (only a residue may be hazardous).
    error HazardousProduct(uint256 index, bytes32 codeKey);
    /// @dev Only a product or by-product lot a processing opened can be declared used (`kind` is what it is).
    error NotUsable(bytes32 lotId, OutputKind kind);

    /// @param ledger_ The ledger creating this module (not called here: its code is not deployed yet).
    constructor(address ledger_) EIP712("SymbiosisProcessing", "1") {
        ledger = ledger_;
    }

    /**
     * @notice Records a processor's signed processing: takes the input lots' quantities from the processor's
     * lots and opens an output lot held by the processor for each output (id: keccak256(abi.encode(processingId,
     * index))).
     * @dev The processor must be an active RECEIVER (the role that holds received lots) holding every input
     * lot; each input's code must be the lot's; each output's code must be catalogued (products too); every
     * code must have a mass unit with its conversion declared; outputs plus losses, in grams, must not exceed
     * lot inputs plus external inputs.
     * @param p The RecordProcessing statement: processor, lot inputs (lot id, its code's key, quantity, grams
     * per unit), external inputs (material, grams, SHA-256 of its delivery document), outputs (kind 1 Product /
     * 2 ByProduct / 3 Residue, code key, quantity, grams per unit), losses in grams and what they are (moisture,
     * dust...), SHA-256 of the processing record, a nonce making the statement unique, and the deadline.
     * @param signature The processor's EIP-712 signature of `p`.
     * @return processingId The EIP-712 digest of the statement, which identifies the processing.
     */
    function process(ProcessingRecord calldata p, bytes calldata signature) external returns (bytes32 processingId) {
        if (p.inputs.length == 0 || p.outputs.length == 0) revert EmptyProcessing(p.inputs.length, p.outputs.length);
        IParticipantRegistry(ledger).requireActive(p.processor, _RECEIVER);
        processingId = _verifySigned(p.processor, _hashProcessingRecord(p), p.deadline, signature);
        if (_outputKinds[_outputLotId(processingId, 0)] != OutputKind.None) revert AlreadyRecorded(processingId);

        // Effects before interactions: the outputs' kinds are recorded before the ledger is called at all.
        (uint256 outputGrams, uint32[] memory outputCodes) = _recordOutputs(processingId, p);
        uint256 inputGrams = _takeInputs(p);
        _openOutputs(processingId, p, outputCodes);
        if (outputGrams + p.lossGrams > inputGrams) revert MassBalanceExceeded(outputGrams + p.lossGrams, inputGrams);
        _emitRecorded(processingId, p, inputGrams, outputGrams);
    }

    /**
     * @notice Records the holder's signed declaration that part of a product or by-product lot was put to its
     * final use, taking that quantity out of the lot: the end of its chain.
     * @dev The holder must be an active participant holding enough of the lot; residue lots (still waste) and
     * lots no processing opened are refused.
     * @param u The DeclareUse statement: holder, lot id, quantity (in the lot's unit), the use (e.g. "road base
     * course, National Road 10"), SHA-256 of the use document (sales or delivery note), the holder's nonce
     * (consumed) and the deadline.
     * @param signature The holder's EIP-712 signature of `u`.
     * @return useId The EIP-712 digest of the statement.
     */
    function declareUse(UseDeclaration calldata u, bytes calldata signature) external returns (bytes32 useId) {
        OutputKind kind = _outputKinds[u.lotId];
        if (kind != OutputKind.Product && kind != OutputKind.ByProduct) revert NotUsable(u.lotId, kind);
        IParticipantRegistry(ledger).requireActive(u.holder, 0);
        bytes32 structHash = keccak256(
            abi.encode(
                _DECLARE_USE_TYPEHASH,
                u.holder,
                u.lotId,
                u.quantity,
                keccak256(bytes(u.use)),
                u.documentHash,
                u.nonce,
                u.deadline
            )
        );
        useId = _useSignedMessage(u.holder, structHash, u.nonce, u.deadline, signature);

        ILotCustody(ledger).takeFromLot(u.lotId, u.holder, u.quantity);
        emit LotUsed(u.lotId, u.holder, useId, u.quantity, u.use, u.documentHash);
    }

    /**
     * @notice What a lot is as a processing output (None if no processing opened it).
     * @param lotId The lot's id.
     */
    function outputKind(bytes32 lotId) external view returns (OutputKind) {
        return _outputKinds[lotId];
    }

    /// @dev Takes every lot input from the processor's lots; returns lot and external inputs in grams.
    function _takeInputs(ProcessingRecord calldata p) private returns (uint256 grams) {
        for (uint256 i; i < p.inputs.length; ++i) {
            LotInput calldata input = p.inputs[i];
            uint32 codeId = ILotCustody(ledger).takeFromLot(input.lotId, p.processor, input.quantity);
            if (_checkConversion(input.codeKey, input.gramsPerUnit).id != codeId) {
                revert LotCodeMismatch(input.lotId, input.codeKey);
            }
            grams += uint256(input.quantity) * input.gramsPerUnit;
        }
        for (uint256 i; i < p.externalInputs.length; ++i) {
            grams += p.externalInputs[i].grams;
        }
    }

    /// @dev Checks every output and records its lot's kind; returns the outputs in grams and their code ids.
    function _recordOutputs(bytes32 processingId, ProcessingRecord calldata p)
        private
        returns (uint256 grams, uint32[] memory codeIds)
    {
        codeIds = new uint32[](p.outputs.length);
        for (uint256 i; i < p.outputs.length; ++i) {
            ProcessOutput calldata output = p.outputs[i];
            if (output.kind == 0 || output.kind > uint8(OutputKind.Residue)) revert InvalidOutputKind(i, output.kind);
            IPermitRegistry.WasteCode memory code = _checkConversion(output.codeKey, output.gramsPerUnit);
            // A hazardous code is waste by definition: only a residue may carry one out of a processing.
            if (code.hazardous && output.kind != uint8(OutputKind.Residue)) revert HazardousProduct(i, output.codeKey);
            codeIds[i] = code.id;
            _outputKinds[_outputLotId(processingId, i)] = OutputKind(output.kind);
            grams += uint256(output.quantity) * output.gramsPerUnit;
        }
    }

    /// @dev Opens every output lot, held by the processor, on the ledger.
    function _openOutputs(bytes32 processingId, ProcessingRecord calldata p, uint32[] memory codeIds) private {
        for (uint256 i; i < p.outputs.length; ++i) {
            ProcessOutput calldata output = p.outputs[i];
            bytes32 lotId = _outputLotId(processingId, i);
            ILotCustody(ledger).openLot(lotId, p.processor, output.quantity, codeIds[i]);
            emit OutputLotOpened(lotId, processingId, p.processor, OutputKind(output.kind), output.codeKey, output.quantity);
        }
    }

    /// @dev Reverts unless `codeKey` is catalogued in a mass unit converting at `gramsPerUnit`; returns its entry.
    function _checkConversion(bytes32 codeKey, uint32 gramsPerUnit)
        private
        view
        returns (IPermitRegistry.WasteCode memory code)
    {
        code = IPermitRegistry(ledger).wasteCode(codeKey);
        if (code.unit == IPermitRegistry.Unit.KilowattHour) revert MasslessUnit(codeKey);
        bool valid = code.unit == IPermitRegistry.Unit.Kilogram ? gramsPerUnit == _GRAMS_PER_KILOGRAM : gramsPerUnit != 0;
        if (!valid) revert InvalidConversion(codeKey, gramsPerUnit);
    }

    function _emitRecorded(bytes32 processingId, ProcessingRecord calldata p, uint256 inputGrams, uint256 outputGrams)
        private
    {
        // Apart from process() so that its locals and the event's arguments need not share one stack.
        emit ProcessingRecorded(
            processingId,
            p.processor,
            p.inputs,
            p.externalInputs,
            p.outputs,
            p.lossGrams,
            p.lossDescription,
            inputGrams,
            outputGrams,
            p.documentHash
        );
    }

    function _outputLotId(bytes32 processingId, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode(processingId, index));
    }

    function _hashProcessingRecord(ProcessingRecord calldata p) private pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    _RECORD_PROCESSING_TYPEHASH,
                    p.processor,
                    _hashLotInputs(p.inputs),
                    _hashExternalInputs(p.externalInputs),
                    _hashOutputs(p.outputs)
                ),
                abi.encode(p.lossGrams, keccak256(bytes(p.lossDescription)), p.documentHash, p.nonce, p.deadline)
            )
        );
    }

    // EIP-712 hashes an array of structs as the concatenation of the elements' struct hashes.

    function _hashLotInputs(LotInput[] calldata inputs) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](inputs.length);
        for (uint256 i; i < inputs.length; ++i) {
            LotInput calldata input = inputs[i];
            hashes[i] = keccak256(
                abi.encode(_LOT_INPUT_TYPEHASH, input.lotId, input.codeKey, input.quantity, input.gramsPerUnit)
            );
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _hashExternalInputs(ExternalInput[] calldata inputs) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](inputs.length);
        for (uint256 i; i < inputs.length; ++i) {
            ExternalInput calldata input = inputs[i];
            hashes[i] = keccak256(
                abi.encode(_EXTERNAL_INPUT_TYPEHASH, keccak256(bytes(input.material)), input.grams, input.documentHash)
            );
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _hashOutputs(ProcessOutput[] calldata outputs) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](outputs.length);
        for (uint256 i; i < outputs.length; ++i) {
            ProcessOutput calldata output = outputs[i];
            hashes[i] = keccak256(
                abi.encode(_PROCESS_OUTPUT_TYPEHASH, output.kind, output.codeKey, output.quantity, output.gramsPerUnit)
            );
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
