// The help text, and the error that makes the CLI print a hint and exit with status 2.
import { DEFAULT_SIZES, SIZE_MULTIPLE } from '../../bench/sizes.js';
import { formatCount } from './units.js';
import { GGUF_PRESETS } from '../formats/gguf-presets.js';

/** A mistake in how kquant was invoked (as opposed to a failure while running). */
export class UsageError extends Error {
  override name = 'UsageError';
}

const INDENT = ' '.repeat(22);

// Fills lines up to `width` columns with the words, continuing at the description column.
function wrap(words: readonly string[], width = 100): string {
  const lines = [''];
  for (const word of words) {
    const last = lines.length - 1;
    if (lines[last]!.length > 0 && INDENT.length + lines[last]!.length + 1 + word.length > width) lines.push(word);
    else lines[last] = lines[last] ? `${lines[last]} ${word}` : word;
  }
  return lines.join(`\n${INDENT}`);
}

// The op names come from the suite, which loads the native addon; help still works without it.
export function usage(opIds: readonly string[] | undefined): string {
  const ops = opIds ? wrap(opIds.map((id, i) => (i < opIds.length - 1 ? `${id},` : id))) : '(names unavailable: the native addon did not load)';
  return `Usage: kquant <command> [options]

Commands:
  info [--json]       Show the SIMD level, CPU features, threads and CUDA devices kquant uses
                      (--json: backend() as JSON)
  bench [options]     Time kquant's ops at each SIMD level (and on CUDA when available) and
                      compare them with a memory-bandwidth figure measured in the same run
  quantize <in> --to <preset> -o <out.gguf> [--json]
                      Convert a llama-family safetensors model (a file, or a directory of
                      shards with model.safetensors.index.json and config.json) to GGUF with
                      llama.cpp's per-tensor types for the preset, with the tokenizer.
                      ${wrap(['Presets:', ...GGUF_PRESETS.map((p, i) => (i < GGUF_PRESETS.length - 1 ? `${p},` : p))])}
  inspect <file.gguf> [--json]
                      Show a GGUF file's version, metadata and tensor table
  compare <in> [--formats <a,b,...>] [--json [file.json]] [--html <report.html>] [--tensors <regex>]
                      Quantize every matrix of a model (a .safetensors file, a directory of
                      shards, or a .gguf file: F32/F16/BF16 tensors, block types dequantized
                      first) in each format, dequantize it, and report bits per weight, size,
                      relative error, SQNR and max error per tensor and in total
  help                Show this help (also --help, -h)

Options for bench:
  --quick             Small sizes and few repetitions: a smoke test that takes seconds
  --ops <a,b,...>     Run only some of the ops:
${INDENT}${ops}
  --sizes <n,...>     Element counts instead of ${DEFAULT_SIZES.map(formatCount).join(', ')}; each a multiple of
                      ${SIZE_MULTIPLE}, optionally with a suffix k, M, G (x1000) or Ki, Mi, Gi (x1024)
  --json <file|->     Also write the results as JSON to <file>, or to stdout with '-'
                      (the table then goes to stderr)

Options for compare:
  --formats <a,b,...> Formats to compare (default q8_0, q6_k, q5_k, q4_k, q3_k, q2_k, nf4, fp4,
                      int8, gptq4):
                      ggml: q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_k, q3_k, q4_k, q5_k, q6_k,
                      q8_k, tq1_0, tq2_0, iq4_nl, mxfp4 (n/a where the block does not divide
                      the row length); bitsandbytes: nf4, fp4 (blocks of 64), bnb8 (8-bit
                      dynamic map, blocks of 4096); int8 (absmax, a scale per row);
                      gptq2, gptq3, gptq4, gptq8: GPTQModel checkpoints (groups of 128) by
                      round-to-nearest with GPTQ's quantizer: GPTQ proper needs calibration
                      inputs, which a weights file lacks, and only lowers the error
  --json [file.json]  Also write the report as JSON to the file; alone (or '-'), JSON goes to
                      stdout and the table to stderr
  --html <file>       Write a self-contained page: error against bits per weight per format,
                      and the tables
  --tensors <regex>   Compare only the tensors whose names match

Environment:
  KQUANT_SIMD=scalar|avx2|avx512   highest SIMD level to use at load
  KQUANT_THREADS=<n>               threads in kquant's CPU pool
`;
}
