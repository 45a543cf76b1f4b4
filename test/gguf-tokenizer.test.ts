// Tokenizer metadata for GGUF from synthetic Hugging Face tokenizer.json files of both kinds llama.cpp's converter
// handles for llama models: byte-level BPE (Llama 3: "gpt2", merges) and byte-fallback BPE (Llama 2 / Mistral:
// "llama", scores), and from a SentencePiece tokenizer.model without tokenizer.json. Each result is written with
// encodeGGUF and read back, so keys, GGUF types and values are checked as llama.cpp will see them; malformed
// files give a KQ_FORMAT message naming the field.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeGGUF, ggufTokenizerMetadata, readGGUF, readGGUFTokenizer, type HFTokenizerFiles } from '../lib/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'kquant-tokenizer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// The typed metadata as a GGUF reader gets it.
function roundTrip(files: HFTokenizerFiles, vocabSize?: number) {
  const result = ggufTokenizerMetadata(files, vocabSize);
  return { result, typed: readGGUF(encodeGGUF({ metadata: { 'general.architecture': 'llama', ...result.metadata } })).typedMetadata };
}

function byteLevel(merges: unknown[], preTokenizer: unknown = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, use_regex: false }] }) {
  return {
    version: '1.0',
    added_tokens: [
      { id: 6, content: '<|begin_of_text|>', special: true, normalized: false },
      { id: 7, content: '<|eot_id|>', special: true, normalized: false },
      { id: 8, content: '\u2581hello', special: false, normalized: false },
      { id: 9, content: '<|reserved_0|>', special: false, normalized: false },
    ],
    pre_tokenizer: preTokenizer,
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true },
        { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [] },
      ],
    },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', ignore_merges: true, byte_fallback: false, vocab: { a: 0, b: 1, '\u0120': 2, ab: 3, '\u0120a': 4, '\u0120ab': 5 }, merges },
  };
}

const llama3Config = { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', chat_template: '{% for m in messages %}{{ m.content }}{% endfor %}' };

describe('byte-level BPE (Llama 3 style) → tokenizer.ggml.model "gpt2"', () => {
  it('tokens in id order with added tokens, types, merges as strings, padding, special ids, add_bos, chat template', () => {
    const { result, typed } = roundTrip({ tokenizer: byteLevel(['a b', '\u0120 a', '\u0120a b']), tokenizerConfig: llama3Config, config: { eos_token_id: [7, 6], pad_token_id: 7 } }, 12);
    expect(result).toMatchObject({ model: 'gpt2', pre: 'llama-bpe', tokenCount: 12, warnings: [] });
    expect(typed['tokenizer.ggml.model']).toEqual({ type: 'str', value: 'gpt2' });
    expect(typed['tokenizer.ggml.pre']).toEqual({ type: 'str', value: 'llama-bpe' });
    expect(typed['tokenizer.ggml.tokens']).toEqual({
      type: 'array',
      itemType: 'str',
      value: ['a', 'b', '\u0120', 'ab', '\u0120a', '\u0120ab', '<|begin_of_text|>', '<|eot_id|>', ' hello', '<|reserved_0|>', '[PAD10]', '[PAD11]'],
    });
    // Special added tokens control (3); <|reserved_0|> looks special, so control too; ▁hello user-defined (4)
    // with its ▁ as a space; ids no token holds unused (5).
    expect(typed['tokenizer.ggml.token_type']).toEqual({ type: 'array', itemType: 'i32', value: [1, 1, 1, 1, 1, 1, 3, 3, 4, 3, 5, 5] });
    expect(typed['tokenizer.ggml.merges']).toEqual({ type: 'array', itemType: 'str', value: ['a b', '\u0120 a', '\u0120a b'] });
    expect(typed['tokenizer.ggml.scores']).toBeUndefined();
    expect(typed['tokenizer.ggml.bos_token_id']).toEqual({ type: 'u32', value: 6 });
    // eos from tokenizer_config.json wins over config.json (a list there is ignored); pad only config.json has.
    expect(typed['tokenizer.ggml.eos_token_id']).toEqual({ type: 'u32', value: 7 });
    expect(typed['tokenizer.ggml.padding_token_id']).toEqual({ type: 'u32', value: 7 });
    expect(typed['tokenizer.ggml.unknown_token_id']).toBeUndefined();
    expect(typed['tokenizer.ggml.add_bos_token']).toEqual({ type: 'bool', value: true });
    expect(typed['tokenizer.ggml.add_eos_token']).toBeUndefined();
    expect(typed['tokenizer.chat_template']).toEqual({ type: 'str', value: llama3Config.chat_template });
    expect(Object.keys(result.metadata).slice(0, 5)).toEqual(['tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges']);
  });

  it('merges as [a, b] pairs (spaces inside a part become U+0120); without a vocab size, as many tokens as ids', () => {
    const { result, typed } = roundTrip({ tokenizer: byteLevel([['a', 'b'], ['\u0120', 'a'], ['a b', 'c']]) });
    expect(typed['tokenizer.ggml.merges']).toEqual({ type: 'array', itemType: 'str', value: ['a b', '\u0120 a', 'a\u0120b c'] });
    expect(result.tokenCount).toBe(10);
    // No tokenizer_config.json: bos is the template's leading special token; no chat template.
    expect(typed['tokenizer.ggml.bos_token_id']).toEqual({ type: 'u32', value: 6 });
    expect(typed['tokenizer.chat_template']).toBeUndefined();
  });

  it('names the pre-tokenizer: GPT-2 (ByteLevel with its regex), Qwen2, unknown → "default" with a warning', () => {
    expect(ggufTokenizerMetadata({ tokenizer: byteLevel([], { type: 'ByteLevel', add_prefix_space: false, use_regex: true }) }).pre).toBe('gpt-2');
    const qwen = LLAMA3_REGEX.replace('\\p{N}{1,3}', '\\p{N}');
    expect(ggufTokenizerMetadata({ tokenizer: byteLevel(['a b'], { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: qwen } }, { type: 'ByteLevel', use_regex: false }] }) }).pre).toBe('qwen2');
    const other = ggufTokenizerMetadata({ tokenizer: byteLevel(['a b'], { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\p{N}+' } }, { type: 'ByteLevel', use_regex: false }] }) });
    expect(other.pre).toBe('default');
    expect(other.metadata['tokenizer.ggml.pre']).toBe('default');
    expect(other.warnings).toEqual([expect.stringMatching(/pre_tokenizer not recognised; tokenizer\.ggml\.pre written as "default"/)]);
    const noMerges = ggufTokenizerMetadata({ tokenizer: byteLevel([]) });
    expect(noMerges.metadata['tokenizer.ggml.merges']).toBeUndefined();
    expect(noMerges.warnings).toEqual([expect.stringMatching(/no merges/)]);
  });

  it('stays linear on a Llama 3 sized vocabulary (128000 tokens, 280000 merges, 256 added)', () => {
    const vocab: Record<string, number> = {};
    for (let i = 0; i < 128000; i++) vocab[`t${i}`] = i;
    const merges = Array.from({ length: 280000 }, (_, i) => [`t${i % 1000}`, `t${(i * 7) % 1000}`]);
    const tokenizer = byteLevel([]);
    tokenizer.model = { ...tokenizer.model, vocab, merges };
    tokenizer.added_tokens = Array.from({ length: 256 }, (_, i) => ({ id: 128000 + i, content: `<|reserved_special_token_${i}|>`, special: true, normalized: false }));
    const started = performance.now();
    const result = ggufTokenizerMetadata({ tokenizer, tokenizerConfig: { bos_token: '<|reserved_special_token_0|>' } }, 128256);
    const bytes = encodeGGUF({ metadata: result.metadata });
    const seconds = (performance.now() - started) / 1000;
    expect(result.tokenCount).toBe(128256);
    expect((result.metadata['tokenizer.ggml.merges'] as string[]).length).toBe(280000);
    expect(readGGUF(bytes).metadata['tokenizer.ggml.bos_token_id']).toBe(128000);
    // Quadratic work on these sizes takes minutes; linear work takes well under a second.
    expect(seconds).toBeLessThan(10);
  });
});

function byteFallback() {
  return {
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
      { id: 9, content: '<extra>', special: false },
    ],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: {
      type: 'BPE',
      byte_fallback: true,
      unk_token: '<unk>',
      vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x00>': 3, '<0x0A>': 4, '\u2581': 5, '\u2581a': 6, b: 7, a: 8 },
      merges: [['\u2581', 'a']],
    },
  };
}

describe('byte-fallback BPE (Llama 2 / Mistral style) → tokenizer.ggml.model "llama"', () => {
  it('tokens, scores (-id for normal tokens), types (unknown, control, byte, user-defined), no merges, special ids, add_bos/add_eos', () => {
    const tokenizerConfig = { add_bos_token: true, add_eos_token: false, bos_token: { content: '<s>', special: true }, eos_token: '</s>', unk_token: '<unk>', pad_token: null };
    const { result, typed } = roundTrip({ tokenizer: byteFallback(), tokenizerConfig, chatTemplate: '{{ bos_token }}' }, 11);
    expect(result).toMatchObject({ model: 'llama', pre: 'default', tokenCount: 11, warnings: [] });
    expect(typed['tokenizer.ggml.model']).toEqual({ type: 'str', value: 'llama' });
    expect(typed['tokenizer.ggml.pre']).toEqual({ type: 'str', value: 'default' });
    expect(typed['tokenizer.ggml.tokens']).toEqual({ type: 'array', itemType: 'str', value: ['<unk>', '<s>', '</s>', '<0x00>', '<0x0A>', '\u2581', '\u2581a', 'b', 'a', '<extra>', '[PAD10]'] });
    expect(typed['tokenizer.ggml.token_type']).toEqual({ type: 'array', itemType: 'i32', value: [2, 3, 3, 6, 6, 1, 1, 1, 1, 4, 5] });
    expect(typed['tokenizer.ggml.scores']).toEqual({ type: 'array', itemType: 'f32', value: [0, 0, 0, 0, 0, -5, -6, -7, -8, -1000, -1000] });
    expect(typed['tokenizer.ggml.merges']).toBeUndefined();
    expect(typed['tokenizer.ggml.bos_token_id']).toEqual({ type: 'u32', value: 1 });
    expect(typed['tokenizer.ggml.eos_token_id']).toEqual({ type: 'u32', value: 2 });
    expect(typed['tokenizer.ggml.unknown_token_id']).toEqual({ type: 'u32', value: 0 });
    expect(typed['tokenizer.ggml.padding_token_id']).toBeUndefined();
    expect(typed['tokenizer.ggml.add_bos_token']).toEqual({ type: 'bool', value: true });
    expect(typed['tokenizer.ggml.add_eos_token']).toEqual({ type: 'bool', value: false });
    // tokenizer_config.json has no chat_template: chat_template.jinja's.
    expect(typed['tokenizer.chat_template']).toEqual({ type: 'str', value: '{{ bos_token }}' });
  });

  it('a list of named chat templates: default → tokenizer.chat_template, others by name', () => {
    const chat_template = [
      { name: 'default', template: 'D' },
      { name: 'tool use', template: 'T' },
    ];
    const { typed } = roundTrip({ tokenizer: byteFallback(), tokenizerConfig: { chat_template } });
    expect(typed['tokenizer.chat_template']).toEqual({ type: 'str', value: 'D' });
    expect(typed['tokenizer.chat_template.tool_use']).toEqual({ type: 'str', value: 'T' });
    expect(typed['tokenizer.chat_templates']).toEqual({ type: 'array', itemType: 'str', value: ['tool_use'] });
  });

  it('special ids past the token count are left out with a warning', () => {
    const result = ggufTokenizerMetadata({ tokenizer: byteFallback(), config: { pad_token_id: 40, bos_token_id: 1 } });
    expect(result.metadata['tokenizer.ggml.padding_token_id']).toBeUndefined();
    expect(result.metadata['tokenizer.ggml.bos_token_id']).toEqual({ type: 'u32', value: 1 });
    expect(result.warnings).toEqual(['config.json: pad token id 40 is not under the 10 tokens; not written']);
  });
});

// A SentencePiece ModelProto as protobuf: pieces (field 1: { 1 piece, 2 score f32, 3 type }) and a trainer_spec
// (field 2) the reader must skip. A piece without a type is NORMAL, protobuf's default.
function sentencePieceModel(pieces: { piece: string; score: number; type?: number }[]): Uint8Array {
  const out: number[] = [];
  const varint = (to: number[], v: number) => {
    for (; v >= 0x80; v = Math.floor(v / 128)) to.push((v & 0x7f) | 0x80);
    to.push(v);
  };
  const bytesField = (to: number[], key: number, body: Uint8Array | number[]) => {
    to.push(key);
    varint(to, body.length);
    to.push(...body);
  };
  bytesField(out, 0x12, [0x08, 0xac, 0x02, 0x2a, 0x01, 0x41]); // trainer_spec { 1: 300, 5: "A" }
  for (const p of pieces) {
    const body: number[] = [];
    bytesField(body, 0x0a, new TextEncoder().encode(p.piece));
    const score = new Uint8Array(new Float32Array([p.score]).buffer);
    body.push(0x15, ...score);
    if (p.type !== undefined) body.push(0x18, p.type);
    bytesField(out, 0x0a, body);
  }
  return Uint8Array.from(out);
}

describe('SentencePiece tokenizer.model (no tokenizer.json) → "llama"', () => {
  const pieces = [
    { piece: '<unk>', score: 0, type: 2 },
    { piece: '<s>', score: 0, type: 3 },
    { piece: '</s>', score: 0, type: 3 },
    { piece: '<0x0A>', score: 0, type: 6 },
    { piece: '\u2581a', score: -1 },
    { piece: 'b', score: -2.5, type: 1 },
  ];

  it('pieces with their scores and types, added tokens, padding to the vocab size, config.json ids', () => {
    const files: HFTokenizerFiles = {
      sentencePiece: sentencePieceModel(pieces),
      addedTokens: { '<extra>': 6 },
      tokenizerConfig: { add_bos_token: true, add_eos_token: false, bos_token: '<s>', added_tokens_decoder: { '7': { content: '<|im_end|>', special: false } } },
      config: { bos_token_id: 1, eos_token_id: 2 },
    };
    const { result, typed } = roundTrip(files, 10);
    expect(result).toMatchObject({ model: 'llama', pre: 'default', tokenCount: 10, warnings: [] });
    expect(typed['tokenizer.ggml.tokens']).toEqual({ type: 'array', itemType: 'str', value: ['<unk>', '<s>', '</s>', '<0x0A>', '\u2581a', 'b', '<extra>', '<|im_end|>', '[PAD8]', '[PAD9]'] });
    expect(typed['tokenizer.ggml.scores']).toEqual({ type: 'array', itemType: 'f32', value: [0, 0, 0, 0, -1, -2.5, -1000, -1000, -10000, -10000] });
    // <|im_end|> is not marked special but looks it: control.
    expect(typed['tokenizer.ggml.token_type']).toEqual({ type: 'array', itemType: 'i32', value: [2, 3, 3, 6, 1, 1, 4, 3, 5, 5] });
    expect(typed['tokenizer.ggml.merges']).toBeUndefined();
    expect(typed['tokenizer.ggml.bos_token_id']).toEqual({ type: 'u32', value: 1 });
    expect(typed['tokenizer.ggml.eos_token_id']).toEqual({ type: 'u32', value: 2 });
    expect(typed['tokenizer.ggml.add_bos_token']).toEqual({ type: 'bool', value: true });
    expect(typed['tokenizer.ggml.add_eos_token']).toEqual({ type: 'bool', value: false });
  });

  it('pieces past the vocab size are left out with a warning; a file that is not a ModelProto is KQ_FORMAT', () => {
    const result = ggufTokenizerMetadata({ sentencePiece: sentencePieceModel(pieces) }, 4);
    expect(result.metadata['tokenizer.ggml.tokens']).toEqual(['<unk>', '<s>', '</s>', '<0x0A>']);
    expect(result.warnings).toEqual(["tokenizer.model: pieces from id 4 on are past the model's 4 embedding rows; left out"]);
    expect(() => ggufTokenizerMetadata({ sentencePiece: Uint8Array.from([0x0a, 0x05, 0x0a]) })).toThrow(/^tokenizer\.model: piece 0 runs past the end \(not a SentencePiece model\?\)$/);
    expect(() => ggufTokenizerMetadata({ sentencePiece: new TextEncoder().encode('{"a": 1}') })).toThrow(/^tokenizer\.model: wire type 3 at byte 1/);
    expect(() => ggufTokenizerMetadata({ sentencePiece: new Uint8Array(0) })).toThrow(/^tokenizer\.model: no pieces/);
  });
});

describe('bad or missing tokenizer files', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return `${(err as { code?: string }).code} ${(err as Error).message}`;
    }
    return 'no error';
  };

  it('malformed tokenizer.json fields give KQ_FORMAT messages naming the field', () => {
    const t = (mutate: (tok: ReturnType<typeof byteLevel>) => unknown) => {
      const tok = byteLevel(['a b']);
      const replaced = mutate(tok);
      return code(() => ggufTokenizerMetadata({ tokenizer: replaced ?? tok }, 12));
    };
    expect(code(() => ggufTokenizerMetadata({ tokenizer: [1, 2] }))).toBe('KQ_FORMAT tokenizer.json: expected a JSON object');
    expect(t(() => ({ version: '1.0' }))).toBe('KQ_FORMAT tokenizer.json: no "model" object');
    expect(t((tok) => ({ ...tok, model: { type: 'Unigram', vocab: [] } }))).toMatch(/^KQ_FORMAT tokenizer\.json: model\.type is "Unigram"; kquant converts BPE tokenizers/);
    expect(t((tok) => ({ ...tok, model: { ...tok.model, vocab: { a: -1 } } }))).toBe('KQ_FORMAT tokenizer.json: model.vocab["a"] is -1, not a token id');
    expect(t((tok) => ({ ...tok, model: { ...tok.model, vocab: { a: 0, b: 0 } } }))).toBe('KQ_FORMAT tokenizer.json: model.vocab gives id 0 to both "a" and "b"');
    expect(t((tok) => ({ ...tok, model: { ...tok.model, merges: ['a b', ['a']] } }))).toBe('KQ_FORMAT tokenizer.json: model.merges[1]: expected "a b" or ["a", "b"] but received ["a"]');
    expect(t((tok) => ({ ...tok, added_tokens: [{ id: 'x', content: 'y' }] }))).toMatch(/^KQ_FORMAT tokenizer\.json: added_tokens\[0\]: expected \{ id: non-negative integer, content: string \}/);
    expect(t((tok) => ({ ...tok, pre_tokenizer: null, decoder: null }))).toMatch(/^KQ_FORMAT tokenizer\.json: a BPE model that is neither byte-level .* nor byte_fallback/);
    expect(code(() => ggufTokenizerMetadata({ tokenizer: byteLevel([]) }, 5))).toBe("KQ_FORMAT tokenizer.json: token id 9 is past the model's 5 embedding rows");
  });

  it('readGGUFTokenizer: undefined without tokenizer.json or .model, tokenizer.json first, invalid JSON named by path', () => {
    const dir = join(tmp, 'dir');
    mkdirSync(dir);
    expect(readGGUFTokenizer(dir)).toBeUndefined();
    writeFileSync(join(dir, 'tokenizer.model'), sentencePieceModel([{ piece: '<unk>', score: 0, type: 2 }, { piece: 'a', score: -1 }]));
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify({ '<x>': 2 }));
    expect(readGGUFTokenizer(dir, 3)!.metadata['tokenizer.ggml.tokens']).toEqual(['<unk>', 'a', '<x>']);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevel(['a b'])));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|eot_id|>' }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ bos_token_id: 6 }));
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages }}');
    const result = readGGUFTokenizer(dir, 10)!;
    expect(result.model).toBe('gpt2');
    expect(result.metadata).toMatchObject({ 'tokenizer.ggml.bos_token_id': { type: 'u32', value: 6 }, 'tokenizer.ggml.eos_token_id': { type: 'u32', value: 7 }, 'tokenizer.chat_template': '{{ messages }}' });
    writeFileSync(join(dir, 'tokenizer_config.json'), '{ not json');
    expect(code(() => readGGUFTokenizer(dir))).toMatch(/^KQ_FORMAT .*tokenizer_config\.json is not valid JSON/);
  });
});
