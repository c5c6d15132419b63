// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IPermitRegistry} from "../interfaces/IPermitRegistry.sol";
import {NaiveTransferLedger} from "./NaiveTransferLedger.sol";

/**
 * @title NaiveProcessing
 * @notice BENCHMARK BASELINE ONLY: never deployed, never used by the service. It exists so that the gas
 * test (tests/contracts/test_gas_processing.py) can compare Processing, in the same run, with the common
 * straightforward way of writing the same module.
 *
 * It does the same job as Processing with the same statements (RecordProcessing with its LotInput,
 * ExternalInput and ProcessOutput structs, DeclareUse; the same EIP-712 type strings, under its own domain
 * name) and the same checks: the processor an active RECEIVER holding every input lot; each input's code the
 * lot's; every code catalogued in a mass unit with its conversion to grams (1000 per kilogram, a positive
 * density per litre); only a residue may carry a hazardous code; outputs plus losses, in grams, within lot
 * inputs plus external inputs; only a product or by-product can be declared used, by an active holder of
 * enough of it. It emits the same events.
 *
 * What differs is the design, deliberately the naive one: the input lots are NaiveTransferLedger's (its
 * lots, as the processing module's are SymbiosisLedger's), which hands back each lot's scheme, code and unit
 * strings, the code's key recomputed from them; the processing is stored in full, with its inputs and
 * external inputs as arrays of structs (material strings included), its output lot ids, its loss
 * description, its totals in grams and timestamps; each output lot is a struct of its own here (processing,
 * index, holder, kind, code key, unit string, conversion, quantity, balance, time), and each declared use a
 * struct with its use string; signatures are checked with OpenZeppelin's SignatureChecker and replays
 * stopped by sequential per-signer nonces in storage (OpenZeppelin Nonces).
 */
contract NaiveProcessing is EIP712, Nonces {
    uint16 private constant _RECEIVER = 1 << 3;

    enum OutputKind {
        None,
        Product,
        ByProduct,
        Residue
    }

    struct InputRecord {
        bytes32 lotId;
        bytes32 codeKey;
        uint256 quantity;
        uint256 gramsPerUnit;
    }

    struct ExternalInputRecord {
        string material;
        uint256 grams;
        bytes32 documentHash;
    }

    struct ProcessingRecordStored {
        bytes32 id;
        address processor;
        InputRecord[] inputs;
        ExternalInputRecord[] externalInputs;
        bytes32[] outputLots;
        uint256 lossGrams;
        string lossDescription;
        uint256 inputGrams;
        uint256 outputGrams;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
        uint256 processedAt;
    }

    struct OutputLotRecord {
        bytes32 id;
        bytes32 processingId;
        uint256 index;
        address holder;
        OutputKind kind;
        bytes32 codeKey;
        string unit;
        uint256 gramsPerUnit;
        uint256 quantity;
        uint256 balance;
        uint256 createdAt;
    }

    struct UseRecord {
        bytes32 id;
        bytes32 lotId;
        address holder;
        uint256 quantity;
        string use;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
        uint256 usedAt;
    }

    /// @dev The same statements as Processing's.
    struct LotInput {
        bytes32 lotId;
        bytes32 codeKey;
        uint64 quantity;
        uint32 gramsPerUnit;
    }

    struct ExternalInput {
        string material;
        uint64 grams;
        bytes32 documentHash;
    }

    struct ProcessOutput {
        uint8 kind;
        bytes32 codeKey;
        uint64 quantity;
        uint32 gramsPerUnit;
    }

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

    NaiveTransferLedger public immutable ledger;
    IParticipantRegistry public immutable participants;
    IPermitRegistry public immutable permits;

    mapping(bytes32 => ProcessingRecordStored) private _processings;
    mapping(bytes32 => OutputLotRecord) public outputLots;
    mapping(bytes32 => UseRecord) public uses;

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
    event OutputLotOpened(
        bytes32 indexed lotId,
        bytes32 indexed processingId,
        address indexed holder,
        OutputKind kind,
        bytes32 codeKey,
        uint64 quantity
    );
    event LotUsed(
        bytes32 indexed lotId, address indexed holder, bytes32 indexed useId, uint64 quantity, string use, bytes32 documentHash
    );

    error Refused(string reason);

    constructor(NaiveTransferLedger ledger_, IParticipantRegistry participants_, IPermitRegistry permits_)
        EIP712("Naive Processing", "1")
    {
        ledger = ledger_;
        participants = participants_;
        permits = permits_;
    }

    function process(ProcessingRecord calldata p, bytes calldata signature) external returns (bytes32 processingId) {
        _require(p.inputs.length > 0 && p.outputs.length > 0, "empty processing");
        participants.requireActive(p.processor, _RECEIVER);
        _useCheckedNonce(p.processor, p.nonce);
        processingId = _verify(p.processor, _hashProcessingRecord(p), p.deadline, signature);
        ProcessingRecordStored storage record = _processings[processingId];
        _require(record.processor == address(0), "already recorded");

        record.id = processingId;
        record.processor = p.processor;
        uint256 inputGrams;
        for (uint256 i = 0; i < p.inputs.length; i++) {
            LotInput calldata input = p.inputs[i];
            (string memory scheme, string memory code, string memory unit) =
                ledger.takeFromLot(input.lotId, p.processor, input.quantity);
            bytes32 codeKey = keccak256(abi.encode(keccak256(bytes(scheme)), keccak256(bytes(code))));
            _require(codeKey == input.codeKey, "lot code mismatch");
            _checkConversion(input.codeKey, unit, input.gramsPerUnit);
            inputGrams += uint256(input.quantity) * input.gramsPerUnit;
            record.inputs.push(
                InputRecord({
                    lotId: input.lotId,
                    codeKey: input.codeKey,
                    quantity: input.quantity,
                    gramsPerUnit: input.gramsPerUnit
                })
            );
        }
        for (uint256 i = 0; i < p.externalInputs.length; i++) {
            ExternalInput calldata input = p.externalInputs[i];
            inputGrams += input.grams;
            record.externalInputs.push(
                ExternalInputRecord({material: input.material, grams: input.grams, documentHash: input.documentHash})
            );
        }
        uint256 outputGrams;
        for (uint256 i = 0; i < p.outputs.length; i++) {
            outputGrams += _openOutput(processingId, i, p.processor, p.outputs[i]);
            record.outputLots.push(keccak256(abi.encode(processingId, i)));
        }
        _require(outputGrams + p.lossGrams <= inputGrams, "mass balance exceeded");
        record.lossGrams = p.lossGrams;
        record.lossDescription = p.lossDescription;
        record.inputGrams = inputGrams;
        record.outputGrams = outputGrams;
        record.documentHash = p.documentHash;
        record.nonce = p.nonce;
        record.deadline = p.deadline;
        record.processedAt = block.timestamp;
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

    function declareUse(UseDeclaration calldata u, bytes calldata signature) external returns (bytes32 useId) {
        OutputLotRecord storage lot = outputLots[u.lotId];
        _require(lot.kind == OutputKind.Product || lot.kind == OutputKind.ByProduct, "not usable");
        participants.requireActive(u.holder, 0);
        _require(u.quantity > 0 && u.quantity <= type(uint56).max, "quantity");
        _require(lot.holder == u.holder, "not lot holder");
        _require(lot.balance >= u.quantity, "insufficient lot balance");
        _useCheckedNonce(u.holder, u.nonce);
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
        useId = _verify(u.holder, structHash, u.deadline, signature);

        lot.balance -= u.quantity;
        uses[useId] = UseRecord({
            id: useId,
            lotId: u.lotId,
            holder: u.holder,
            quantity: u.quantity,
            use: u.use,
            documentHash: u.documentHash,
            nonce: u.nonce,
            deadline: u.deadline,
            usedAt: block.timestamp
        });
        emit LotUsed(u.lotId, u.holder, useId, u.quantity, u.use, u.documentHash);
    }

    /// @notice A processing as stored: processor, lot inputs, external inputs and output lots.
    function processing(bytes32 processingId)
        external
        view
        returns (address processor, InputRecord[] memory inputs, ExternalInputRecord[] memory externalInputs, bytes32[] memory outputs)
    {
        ProcessingRecordStored storage record = _processings[processingId];
        return (record.processor, record.inputs, record.externalInputs, record.outputLots);
    }

    /// @dev Checks an output and opens its lot, held by the processor; returns its mass in grams.
    function _openOutput(bytes32 processingId, uint256 index, address processor, ProcessOutput calldata output)
        private
        returns (uint256 grams)
    {
        _require(output.kind >= 1 && output.kind <= 3, "invalid output kind");
        _require(output.quantity > 0 && output.quantity <= type(uint56).max, "quantity");
        IPermitRegistry.WasteCode memory code = permits.wasteCode(output.codeKey);
        string memory unit = _unitCode(code.unit);
        _checkConversion(output.codeKey, unit, output.gramsPerUnit);
        _require(!code.hazardous || output.kind == uint8(OutputKind.Residue), "hazardous product");
        bytes32 lotId = keccak256(abi.encode(processingId, index));
        _require(outputLots[lotId].holder == address(0), "already recorded");
        outputLots[lotId] = OutputLotRecord({
            id: lotId,
            processingId: processingId,
            index: index,
            holder: processor,
            kind: OutputKind(output.kind),
            codeKey: output.codeKey,
            unit: unit,
            gramsPerUnit: output.gramsPerUnit,
            quantity: output.quantity,
            balance: output.quantity,
            createdAt: block.timestamp
        });
        emit OutputLotOpened(lotId, processingId, processor, OutputKind(output.kind), output.codeKey, output.quantity);
        return uint256(output.quantity) * output.gramsPerUnit;
    }

    /// @dev A code in kilograms converts at 1000 g per unit, one in litres at its declared density; kWh has no mass.
    function _checkConversion(bytes32 codeKey, string memory unit, uint256 gramsPerUnit) private view {
        _require(permits.wasteCode(codeKey).id != 0, "unknown waste code");
        bytes32 unitHash = keccak256(bytes(unit));
        _require(unitHash != keccak256("KWH"), "massless unit");
        if (unitHash == keccak256("KGM")) _require(gramsPerUnit == 1000, "invalid conversion");
        else _require(gramsPerUnit > 0, "invalid conversion");
    }

    function _verify(address signer, bytes32 structHash, uint256 deadline, bytes calldata signature)
        private
        view
        returns (bytes32 digest)
    {
        _require(block.timestamp <= deadline, "expired");
        digest = _hashTypedDataV4(structHash);
        _require(SignatureChecker.isValidSignatureNow(signer, digest, signature), "invalid signature");
    }

    function _hashProcessingRecord(ProcessingRecord calldata p) private pure returns (bytes32) {
        bytes32[] memory inputHashes = new bytes32[](p.inputs.length);
        for (uint256 i = 0; i < p.inputs.length; i++) {
            inputHashes[i] = keccak256(
                abi.encode(
                    _LOT_INPUT_TYPEHASH, p.inputs[i].lotId, p.inputs[i].codeKey, p.inputs[i].quantity, p.inputs[i].gramsPerUnit
                )
            );
        }
        bytes32[] memory externalHashes = new bytes32[](p.externalInputs.length);
        for (uint256 i = 0; i < p.externalInputs.length; i++) {
            externalHashes[i] = keccak256(
                abi.encode(
                    _EXTERNAL_INPUT_TYPEHASH,
                    keccak256(bytes(p.externalInputs[i].material)),
                    p.externalInputs[i].grams,
                    p.externalInputs[i].documentHash
                )
            );
        }
        bytes32[] memory outputHashes = new bytes32[](p.outputs.length);
        for (uint256 i = 0; i < p.outputs.length; i++) {
            outputHashes[i] = keccak256(
                abi.encode(
                    _PROCESS_OUTPUT_TYPEHASH,
                    p.outputs[i].kind,
                    p.outputs[i].codeKey,
                    p.outputs[i].quantity,
                    p.outputs[i].gramsPerUnit
                )
            );
        }
        return keccak256(
            abi.encode(
                _RECORD_PROCESSING_TYPEHASH,
                p.processor,
                keccak256(abi.encodePacked(inputHashes)),
                keccak256(abi.encodePacked(externalHashes)),
                keccak256(abi.encodePacked(outputHashes)),
                p.lossGrams,
                keccak256(bytes(p.lossDescription)),
                p.documentHash,
                p.nonce,
                p.deadline
            )
        );
    }

    function _unitCode(IPermitRegistry.Unit unit) private pure returns (string memory) {
        if (unit == IPermitRegistry.Unit.Kilogram) return "KGM";
        if (unit == IPermitRegistry.Unit.Litre) return "LTR";
        return "KWH";
    }

    function _require(bool condition, string memory reason) private pure {
        if (!condition) revert Refused(reason);
    }
}
