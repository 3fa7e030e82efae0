import { apiError } from './errors.js';

/**
 * How deeply a request body may nest objects and arrays. Every reader of a body (validation,
 * read-only stripping, defaults, merge patch, JSON.stringify, the store) walks it recursively, so
 * depth is what turns a 4 MB body into a stack overflow; no resource of this API nests past ~10
 * levels, and .NET's JSON readers (ARM's) stop at 64 by default too.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * JSON.parse of a request body, refused with 400 InvalidRequestContent when it is malformed or
 * nests deeper than `maxDepth` (checked on the text first, without recursion).
 */
export function parseJsonBody(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  checkJsonDepth(text, maxDepth);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw apiError('InvalidRequestContent', { reason: (error as Error).message }, { cause: error });
  }
}

/** Throws 400 InvalidRequestContent when `text` opens more than `maxDepth` objects/arrays at once. */
export function checkJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) {
        throw apiError('InvalidRequestContent', {
          reason: `the JSON is nested deeper than ${maxDepth} levels.`,
        });
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}
