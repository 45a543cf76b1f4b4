// Tokenizer metadata (tokenizer.*) for a GGUF file, from a Hugging Face fast tokenizer (tokenizer.json with
// tokenizer_config.json and config.json beside it), as llama.cpp's converter writes it for llama-family models,
// so llama.cpp can run the file. Rules from ggml-org/llama.cpp convert_hf_to_gguf.py @ 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf
// (LlamaModel.set_vocab → _set_vocab_llama_hf or _set_vocab_gpt2; get_vocab_base; does_token_look_special) and
// gguf-py/gguf/vocab.py @ 0c1c9d33a805aad92c28cc15213a0dc5867f8818 (LlamaHfVocab, SpecialVocab); key names from
// gguf-py/gguf/constants.py (Keys.Tokenizer). Two kinds of BPE model:
//   - byte-level BPE (Llama 3, GPT-2): tokenizer.ggml.model "gpt2", tokens, token types and merges;
//   - SentencePiece-style BPE with byte_fallback (Llama 2, Mistral): "llama", tokens, scores and token types.
// The converter names the pre-tokenizer (tokenizer.ggml.pre) by hashing the tokenization of a fixed text, which
// needs the tokenizer itself; here the Split regex of tokenizer.json's pre_tokenizer is matched against the
// regexes llama.cpp implements (src/llama-vocab.cpp), and anything else falls back to "default" with a warning.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KquantError } from '../errors.js';
import type { GGUFWriteValue } from './gguf.js';

/** llama.cpp's token types (gguf-py TokenType, llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** The parsed JSON files of a Hugging Face tokenizer directory; only `tokenizer` (tokenizer.json) is required. */
export interface HFTokenizerFiles {
  tokenizer: unknown;
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

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new KquantError('KQ_FORMAT', `${path} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Reads tokenizer.json, tokenizer_config.json, config.json and chat_template.jinja from `dir` and builds the
 * metadata (ggufTokenizerMetadata). Returns undefined when there is no tokenizer.json.
 */
export function readGGUFTokenizer(dir: string, vocabSize?: number): GGUFTokenizer | undefined {
  const path = (name: string) => join(dir, name);
  if (!existsSync(path('tokenizer.json'))) return undefined;
  const optional = (name: string) => (existsSync(path(name)) ? readJsonFile(path(name)) : undefined);
  return ggufTokenizerMetadata(
    {
      tokenizer: readJsonFile(path('tokenizer.json')),
      tokenizerConfig: optional('tokenizer_config.json'),
      config: optional('config.json'),
      chatTemplate: existsSync(path('chat_template.jinja')) ? readFileSync(path('chat_template.jinja'), 'utf8') : undefined,
    },
    vocabSize,
  );
}
