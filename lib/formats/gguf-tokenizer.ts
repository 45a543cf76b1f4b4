// Tokenizer metadata (tokenizer.*) for a GGUF file, from a Hugging Face fast tokenizer (tokenizer.json with
// tokenizer_config.json and config.json beside it), as llama.cpp's converter writes it for llama-family models,
// so llama.cpp can run the file. Rules from ggml-org/llama.cpp convert_hf_to_gguf.py
// @ 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf (LlamaModel.set_vocab → _set_vocab_sentencepiece,
// _set_vocab_llama_hf or _set_vocab_gpt2; get_vocab_base; _create_vocab_sentencepiece; does_token_look_special)
// and gguf-py/gguf/vocab.py @ 0c1c9d33a805aad92c28cc15213a0dc5867f8818 (LlamaHfVocab, SpecialVocab); key names
// as gguf-py/gguf/constants.py's Keys.Tokenizer. Three sources:
//   - byte-level BPE (Llama 3, GPT-2): tokenizer.ggml.model "gpt2", tokens, token types and merges;
//   - SentencePiece-style BPE with byte_fallback (Llama 2, Mistral): "llama", tokens, scores and token types;
//   - without tokenizer.json, a SentencePiece tokenizer.model: "llama", its pieces, scores and types.
// The converter names the pre-tokenizer (tokenizer.ggml.pre) by hashing the tokenization of a fixed text, which
// needs the tokenizer itself; here the Split regex of tokenizer.json's pre_tokenizer is matched against the
// regexes llama.cpp implements (src/llama-vocab.cpp), and anything else falls back to "default" with a warning.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KquantError } from '../errors.js';
import type { GGUFWriteValue } from './gguf.js';

/** llama.cpp's token types (gguf-py TokenType, llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/**
 * The files of a Hugging Face tokenizer directory, JSON parsed: tokenizer.json, or without it a SentencePiece
 * tokenizer.model (its bytes) with added_tokens.json.
 */
export interface HFTokenizerFiles {
  tokenizer?: unknown;
  sentencePiece?: Uint8Array;
  addedTokens?: unknown;
  tokenizerConfig?: unknown;
  config?: unknown;
  /** chat_template.jinja, used when tokenizer_config.json has no chat_template (as SpecialVocab does). */
  chatTemplate?: string;
}

export interface GGUFTokenizer {
  model: 'gpt2' | 'llama';
  pre: string;
  tokenCount: number;
  metadata: Record<string, GGUFWriteValue>;
  warnings: string[];
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

type Json = Record<string, unknown>;

function bad(message: string): never {
  throw new KquantError('KQ_FORMAT', `tokenizer.json: ${message}`);
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32;

// Pre-tokenizer regexes as tokenizer.json spells them, with the name llama.cpp gives each (llama-vocab.cpp's
// llm_tokenizer_bpe keeps the original regex in a comment beside its adaptation).
const PRE_BY_REGEX: ReadonlyMap<string, string> = new Map([
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'llama-bpe'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'qwen2'],
  [
    '[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
    'tekken',
  ],
]);

// The Split regexes and ByteLevel steps of a pre_tokenizer, through Sequence nesting.
function preTokenizerSteps(node: unknown, out: { regexes: string[]; byteLevelRegex: boolean }): void {
  if (!isObject(node)) return;
  if (node.type === 'Sequence' && Array.isArray(node.pretokenizers)) {
    for (const p of node.pretokenizers) preTokenizerSteps(p, out);
  } else if (node.type === 'Split' && isObject(node.pattern) && typeof node.pattern.Regex === 'string') {
    out.regexes.push(node.pattern.Regex);
  } else if (node.type === 'ByteLevel' && node.use_regex !== false) {
    out.byteLevelRegex = true;
  }
}

function preTokenizerName(tokenizer: Json, warnings: string[]): string {
  const steps = { regexes: [] as string[], byteLevelRegex: false };
  preTokenizerSteps(tokenizer.pre_tokenizer, steps);
  if (steps.regexes.length === 1 && !steps.byteLevelRegex) {
    const name = PRE_BY_REGEX.get(steps.regexes[0]!);
    if (name) return name;
  }
  // A ByteLevel step with its own regex and nothing else: GPT-2's pre-tokenizer.
  if (steps.regexes.length === 0 && steps.byteLevelRegex) return 'gpt-2';
  warnings.push('tokenizer.json: pre_tokenizer not recognised; tokenizer.ggml.pre written as "default" (llama.cpp will split words with its default regex, which may differ from this model\'s)');
  return 'default';
}

// convert_hf_to_gguf.py's does_token_look_special: added tokens some models forget to mark special.
function looksSpecial(text: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(text) ||
    (text.startsWith('<|') && text.endsWith('|>')) ||
    (text.startsWith('<｜') && text.endsWith('｜>')) ||
    (text.startsWith('<unused') && text.endsWith('>'))
  );
}

function addedTokens(tokenizer: Json): AddedToken[] {
  const list = tokenizer.added_tokens ?? [];
  if (!Array.isArray(list)) bad('"added_tokens" is not an array');
  return list.map((t, i) => {
    if (!isObject(t) || !isId(t.id) || typeof t.content !== 'string') bad(`added_tokens[${i}]: expected { id: non-negative integer, content: string } but received ${JSON.stringify(t)?.slice(0, 80)}`);
    return { id: t.id, content: t.content, special: t.special === true };
  });
}

// Merges as llama.cpp reads them, "a b"; the pair form (transformers ≥ 4.45) may hold spaces inside a part,
// which SpecialVocab writes as U+0120 (space + 256), the byte-level alphabet's space.
function mergeList(model: Json, warnings: string[]): string[] {
  const merges = model.merges ?? [];
  if (!Array.isArray(merges)) bad('model.merges is not an array');
  if (merges.length === 0) warnings.push('tokenizer.json has no merges: llama.cpp will tokenize byte by byte');
  return merges.map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0].replaceAll(' ', '\u0120')} ${m[1].replaceAll(' ', '\u0120')}`;
    bad(`model.merges[${i}]: expected "a b" or ["a", "b"] but received ${JSON.stringify(m)?.slice(0, 80)}`);
  });
}

const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
type SpecialType = (typeof SPECIAL_TYPES)[number];
// Keys.Tokenizer.*_ID ("seperator" is llama.cpp's spelling).
const SPECIAL_KEY: Record<SpecialType, string> = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id',
  pad: 'tokenizer.ggml.padding_token_id',
  cls: 'tokenizer.ggml.cls_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
};

const tokenContent = (entry: unknown): string | undefined => (typeof entry === 'string' ? entry : isObject(entry) && typeof entry.content === 'string' ? entry.content : undefined);

// SpecialVocab: ids of tokenizer_config.json's <typ>_token by its content among tokenizer.json's added tokens,
// then config.json's <typ>_token_id for the types still unset; add_bos/add_eos from the post-processor's
// TemplateProcessing, overridden by tokenizer_config.json's add_<typ>_token; the chat template.
function specialMetadata(files: HFTokenizerFiles, tokenizer: Json, added: readonly AddedToken[], tokenCount: number, warnings: string[]): Record<string, GGUFWriteValue> {
  const tc = isObject(files.tokenizerConfig) ? files.tokenizerConfig : undefined;
  const content: Partial<Record<SpecialType, string>> = {};
  for (const typ of SPECIAL_TYPES) content[typ] = tokenContent(tc?.[`${typ}_token`]);
  content.bos ??= content.cls;
  content.eos ??= content.sep;

  const add: Partial<Record<'bos' | 'eos', boolean>> = {};
  const post = tokenizer.post_processor;
  const processors = isObject(post) ? (Array.isArray(post.processors) ? post.processors : [post]) : [];
  for (const p of processors) {
    if (!isObject(p) || p.type !== 'TemplateProcessing' || !Array.isArray(p.single) || p.single.length < 2) continue;
    const specialId = (item: unknown) => (isObject(item) && isObject(item.SpecialToken) && typeof item.SpecialToken.id === 'string' ? item.SpecialToken.id : undefined);
    const first = specialId(p.single[0]);
    const last = specialId(p.single[p.single.length - 1]);
    if (first !== undefined) {
      if (!tc) content.bos = first;
      add.bos = first === content.bos || first === content.cls;
    }
    if (last !== undefined) {
      if (!tc) content.eos = last;
      add.eos = last === content.eos;
    }
  }
  for (const typ of ['bos', 'eos'] as const) if (typeof tc?.[`add_${typ}_token`] === 'boolean') add[typ] = tc[`add_${typ}_token`] as boolean;

  const ids: Partial<Record<SpecialType, number>> = {};
  const set = (typ: SpecialType, id: unknown, from: string) => {
    if (ids[typ] !== undefined || !isId(id)) return;
    if (id >= tokenCount) warnings.push(`${from}: ${typ} token id ${id} is not under the ${tokenCount} tokens; not written`);
    else ids[typ] = id;
  };
  for (const typ of SPECIAL_TYPES) {
    const text = content[typ];
    if (text !== undefined) set(typ, added.find((t) => t.content === text)?.id, 'tokenizer_config.json');
  }
  const config = isObject(files.config) ? files.config : undefined;
  for (const typ of SPECIAL_TYPES) set(typ, config?.[`${typ}_token_id`], 'config.json');

  const metadata: Record<string, GGUFWriteValue> = {};
  for (const typ of SPECIAL_TYPES) if (ids[typ] !== undefined) metadata[SPECIAL_KEY[typ]] = { type: 'u32', value: ids[typ]! };
  for (const typ of ['bos', 'eos'] as const) if (add[typ] !== undefined) metadata[`tokenizer.ggml.add_${typ}_token`] = add[typ]!;

  if (tc) {
    const template = tc.chat_template ?? files.chatTemplate;
    if (typeof template === 'string') metadata['tokenizer.chat_template'] = template;
    else if (Array.isArray(template)) Object.assign(metadata, namedTemplates(template));
    else if (template !== undefined) warnings.push('tokenizer_config.json: chat_template is neither a string nor a list of { name, template }; not written');
  }
  return metadata;
}

// GGUFWriter.add_chat_template for a list: "default" is tokenizer.chat_template, each other one
// tokenizer.chat_template.<name> (name reduced to [A-Za-z0-9_]), and tokenizer.chat_templates lists their names.
function namedTemplates(list: readonly unknown[]): Record<string, GGUFWriteValue> {
  const out: Record<string, GGUFWriteValue> = {};
  const names: string[] = [];
  let fallback: string | undefined;
  for (const choice of list) {
    if (!isObject(choice) || typeof choice.template !== 'string' || typeof choice.name !== 'string' || choice.name === '') continue;
    const name = choice.name.replace(/[^A-Za-z0-9]/g, '_');
    if (name === 'default') fallback = choice.template;
    else if (!names.includes(name)) {
      names.push(name);
      out[`tokenizer.chat_template.${name}`] = choice.template;
    }
  }
  if (names.length > 0) out['tokenizer.chat_templates'] = names;
  if (fallback !== undefined) out['tokenizer.chat_template'] = fallback;
  return out;
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/**
 * The tokenizer.* metadata llama.cpp needs, from the parsed files. `vocabSize` (the embedding's row count)
 * pads the list with "[PAD<id>]" unused tokens, as the converter pads to config.json's vocab_size, so the
 * token count equals the rows; a token id at or past it is an error. Malformed input throws KQ_FORMAT.
 */
export function ggufTokenizerMetadata(files: HFTokenizerFiles, vocabSize?: number): GGUFTokenizer {
  if (files.tokenizer === undefined && files.sentencePiece !== undefined) return sentencePieceMetadata(files, vocabSize);
  const tokenizer = files.tokenizer;
  if (!isObject(tokenizer)) bad('expected a JSON object');
  const model = tokenizer.model;
  if (!isObject(model)) bad('no "model" object');
  if (model.type !== 'BPE') bad(`model.type is ${JSON.stringify(model.type)}; kquant converts BPE tokenizers (byte-level as Llama 3, or with byte_fallback as Llama 2 and Mistral)`);
  const vocab = model.vocab;
  if (!isObject(vocab)) bad('model.vocab is not a { token: id } object');
  const warnings: string[] = [];
  const added = addedTokens(tokenizer);

  let maxId = -1;
  for (const [text, id] of Object.entries(vocab)) {
    if (!isId(id)) bad(`model.vocab[${JSON.stringify(text)}] is ${JSON.stringify(id)}, not a token id`);
    if (id > maxId) maxId = id;
  }
  for (const t of added) if (t.id > maxId) maxId = t.id;
  if (vocabSize !== undefined && maxId >= vocabSize) bad(`token id ${maxId} is past the model's ${vocabSize} embedding rows`);
  const count = vocabSize ?? maxId + 1;

  // Text per id: model.vocab, then added_tokens (which may repeat vocab entries, and win).
  const texts: (string | undefined)[] = new Array(count);
  for (const [text, id] of Object.entries(vocab)) {
    if (texts[id as number] !== undefined) bad(`model.vocab gives id ${id} to both ${JSON.stringify(texts[id as number])} and ${JSON.stringify(text)}`);
    texts[id as number] = text;
  }
  const addedById = new Map<number, AddedToken>();
  for (const t of added) {
    addedById.set(t.id, t);
    texts[t.id] = t.content;
  }

  const byteFallback = model.byte_fallback === true;
  const tokens: string[] = new Array(count);
  const types: number[] = new Array(count);
  const metadata: Record<string, GGUFWriteValue> = {};
  let pre = 'default';
  if (byteFallback) {
    // LlamaHfVocab: <0xXX> byte tokens, special added tokens control, other added tokens past model.vocab
    // user-defined. Scores: the converter writes -1000 for every token (a placeholder in LlamaHfVocab), which
    // would make llama.cpp's SentencePiece tokenizer merge left to right; instead normal tokens get -id, the
    // order SentencePiece's own scores give (tokenizer.json's vocab is in that order), as a tokenizer.model
    // conversion would. The unknown token is type 2, as SentencePieceProcessor.IsUnknown marks it.
    const unk = typeof model.unk_token === 'string' ? model.unk_token : undefined;
    const scores: number[] = new Array(count);
    for (let id = 0; id < count; id++) {
      const text = texts[id];
      const a = addedById.get(id);
      let type: number = TOKEN_TYPE.normal;
      if (text === undefined) type = TOKEN_TYPE.unused;
      else if (text === unk) type = TOKEN_TYPE.unknown;
      else if (BYTE_TOKEN.test(text)) type = TOKEN_TYPE.byte;
      else if (a?.special) type = TOKEN_TYPE.control;
      else if (a && !Object.hasOwn(vocab, a.content)) type = TOKEN_TYPE.userDefined;
      tokens[id] = text ?? `[PAD${id}]`;
      types[id] = type;
      scores[id] = type === TOKEN_TYPE.normal ? -id : type === TOKEN_TYPE.unused || type === TOKEN_TYPE.userDefined ? -1000 : 0;
    }
    Object.assign(metadata, {
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.pre': pre,
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: scores },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
    });
  } else {
    const byteLevel = JSON.stringify([tokenizer.pre_tokenizer, tokenizer.decoder]).includes('"ByteLevel"');
    if (!byteLevel) bad('a BPE model that is neither byte-level (a ByteLevel pre_tokenizer or decoder, as Llama 3) nor byte_fallback (as Llama 2)');
    // get_vocab_base: every added token is control when marked special (or looks it), else user-defined with
    // SentencePiece's ▁ written as a space; ids nobody holds are "[PAD<id>]", unused.
    pre = preTokenizerName(tokenizer, warnings);
    for (let id = 0; id < count; id++) {
      const a = addedById.get(id);
      let text = texts[id];
      let type: number = TOKEN_TYPE.normal;
      if (text === undefined) type = TOKEN_TYPE.unused;
      else if (a && (a.special || looksSpecial(text))) type = TOKEN_TYPE.control;
      else if (a) {
        type = TOKEN_TYPE.userDefined;
        text = text.replaceAll('\u2581', ' ');
      }
      tokens[id] = text ?? `[PAD${id}]`;
      types[id] = type;
    }
    const merges = mergeList(model, warnings);
    Object.assign(metadata, {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': pre,
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
      ...(merges.length > 0 ? { 'tokenizer.ggml.merges': merges } : {}),
    });
  }
  Object.assign(metadata, specialMetadata(files, tokenizer, added, count, warnings));
  return { model: byteFallback ? 'llama' : 'gpt2', pre, tokenCount: count, metadata, warnings };
}

// ---- SentencePiece tokenizer.model ----

interface Piece {
  piece: string;
  score: number;
  type: number;
}

// A protobuf reader for what the vocabulary needs of sentencepiece_model.proto's ModelProto: field 1, `pieces`,
// each { 1: piece (string), 2: score (float), 3: type (enum, default NORMAL) }. SentencePiece's piece types
// are llama.cpp's token types (NORMAL 1 … BYTE 6). Other fields are skipped by wire type.
function readPieces(bytes: Uint8Array): Piece[] {
  const badModel = (what: string): never => {
    throw new KquantError('KQ_FORMAT', `tokenizer.model: ${what} (not a SentencePiece model?)`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.length) badModel(`a varint runs past the end (${bytes.length} bytes)`);
      const b = bytes[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    return badModel(`a varint longer than 10 bytes at byte ${at}`);
  };
  // Calls `onField` for each field in [at, end); it reads the value or returns false to have it skipped.
  const fields = (end: number, onField: (field: number, wire: number) => boolean): void => {
    while (at < end) {
      const key = varint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (onField(field, wire)) continue;
      if (wire === 0) varint();
      else if (wire === 1) at += 8;
      else if (wire === 2) {
        const length = varint(); // read before `at` is: varint() moves it
        at += length;
      }
      else if (wire === 5) at += 4;
      else badModel(`wire type ${wire} at byte ${at}`);
      if (at > end) badModel(`field ${field} runs past its message`);
    }
  };
  const pieces: Piece[] = [];
  fields(bytes.length, (field, wire) => {
    if (field !== 1 || wire !== 2) return false;
    const length = varint();
    const end = at + length;
    if (end > bytes.length) badModel(`piece ${pieces.length} runs past the end`);
    const p: Piece = { piece: '', score: 0, type: TOKEN_TYPE.normal };
    fields(end, (f, w) => {
      if (f === 1 && w === 2) {
        const length = varint();
        p.piece = utf8.decode(bytes.subarray(at, at + length));
        at += length;
      } else if (f === 2 && w === 5) {
        p.score = view.getFloat32(at, true);
        at += 4;
      } else if (f === 3 && w === 0) p.type = varint();
      else return false;
      return true;
    });
    pieces.push(p);
    return true;
  });
  if (pieces.length === 0) badModel('no pieces');
  return pieces;
}

// convert_hf_to_gguf.py's _create_vocab_sentencepiece: the pieces as they are, ids up to the vocab size
// pre-filled with "[PAD<id>]" (score -10000, unused); added_tokens.json user-defined and tokenizer_config.json's
// added_tokens_decoder control (special or looking it) or user-defined, each with score -1000.
function sentencePieceMetadata(files: HFTokenizerFiles, vocabSize: number | undefined): GGUFTokenizer {
  const pieces = readPieces(files.sentencePiece!);
  const warnings: string[] = [];
  const count = vocabSize ?? pieces.length;
  const tokens: string[] = Array.from({ length: count }, (_, i) => `[PAD${i}]`);
  const scores: number[] = new Array(count).fill(-10000);
  const types: number[] = new Array(count).fill(TOKEN_TYPE.unused);
  if (pieces.length > count) warnings.push(`tokenizer.model: pieces from id ${count} on are past the model's ${count} embedding rows; left out`);
  for (let id = 0; id < Math.min(count, pieces.length); id++) {
    const p = pieces[id]!;
    tokens[id] = p.piece;
    scores[id] = p.score;
    types[id] = p.type >= TOKEN_TYPE.normal && p.type <= TOKEN_TYPE.byte ? p.type : TOKEN_TYPE.normal;
  }
  const place = (id: unknown, text: string, type: number, from: string) => {
    if (!isId(id) || id >= count) {
      warnings.push(`${from}: token ${JSON.stringify(text)} has id ${JSON.stringify(id)}, not under the ${count} tokens; left out`);
      return;
    }
    tokens[id] = text;
    scores[id] = -1000;
    types[id] = type;
  };
  if (isObject(files.addedTokens)) for (const [text, id] of Object.entries(files.addedTokens)) place(id, text, TOKEN_TYPE.userDefined, 'added_tokens.json');
  const tc = isObject(files.tokenizerConfig) ? files.tokenizerConfig : undefined;
  if (isObject(tc?.added_tokens_decoder)) {
    for (const [key, entry] of Object.entries(tc.added_tokens_decoder)) {
      if (!isObject(entry) || typeof entry.content !== 'string') continue;
      const special = entry.special === true || looksSpecial(entry.content);
      place(Number(key), special ? entry.content : entry.content.replaceAll('\u2581', ' '), special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined, 'tokenizer_config.json');
    }
  }
  const metadata: Record<string, GGUFWriteValue> = {
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.pre': 'default',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: scores },
    'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
    // No tokenizer.json: special tokens resolve by config.json's ids only, as SpecialVocab does.
    ...specialMetadata(files, {}, [], count, warnings),
  };
  return { model: 'llama', pre: 'default', tokenCount: count, metadata, warnings };
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new KquantError('KQ_FORMAT', `${path} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Reads tokenizer.json (else tokenizer.model and added_tokens.json), tokenizer_config.json, config.json and
 * chat_template.jinja from `dir` and builds the metadata (ggufTokenizerMetadata). Returns undefined when there
 * is neither tokenizer.json nor tokenizer.model.
 */
export function readGGUFTokenizer(dir: string, vocabSize?: number): GGUFTokenizer | undefined {
  const path = (name: string) => join(dir, name);
  const optional = (name: string) => (existsSync(path(name)) ? readJsonFile(path(name)) : undefined);
  const hasJson = existsSync(path('tokenizer.json'));
  if (!hasJson && !existsSync(path('tokenizer.model'))) return undefined;
  return ggufTokenizerMetadata(
    {
      ...(hasJson ? { tokenizer: readJsonFile(path('tokenizer.json')) } : { sentencePiece: readFileSync(path('tokenizer.model')), addedTokens: optional('added_tokens.json') }),
      tokenizerConfig: optional('tokenizer_config.json'),
      config: optional('config.json'),
      chatTemplate: existsSync(path('chat_template.jinja')) ? readFileSync(path('chat_template.jinja'), 'utf8') : undefined,
    },
    vocabSize,
  );
}
