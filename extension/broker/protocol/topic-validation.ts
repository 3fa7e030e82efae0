// Topic name / filter validity (spec 4.7, 1.5.4). Throws ProtocolError with the reason code the
// caller would send.
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';
import { parseSharedFilter } from '../session/topic-filter.js';

const MAX_UTF8_BYTES = 65535;

/**
 * UTF-8 strings must not contain U+0000 [MQTT-1.5.4-2] and must be well-formed [MQTT-1.5.4-1].
 * mqtt-packet decodes with replacement, so ill-formed input shows up as U+FFFD; we refuse that
 * character too (a legitimate U+FFFD in a topic is vanishingly rare and not worth the ambiguity).
 */
export function isValidMqttString(s: string): boolean {
  return !s.includes('\u0000') && !s.includes('\ufffd') && fitsUtf8Limit(s);
}

/** At most 3 UTF-8 bytes per UTF-16 unit: only long strings need counting. */
function fitsUtf8Limit(s: string): boolean {
  return s.length <= MAX_UTF8_BYTES / 3 || Buffer.byteLength(s) <= MAX_UTF8_BYTES;
}

/** Checked for every PUBLISH: one pass over the topic instead of a search per rule. */
export function assertTopicName(topic: string): void {
  if (topic.length === 0) throw new ProtocolError(ReasonCode.TopicNameInvalid, 'empty topic name'); // [MQTT-4.7.3-1]
  let wildcard = false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0 || c === 0xfffd) throw new ProtocolError(ReasonCode.TopicNameInvalid, 'malformed UTF-8 in topic name');
    if (c === 0x2b || c === 0x23) wildcard = true; // '+', '#'
  }
  if (!fitsUtf8Limit(topic)) throw new ProtocolError(ReasonCode.TopicNameInvalid, 'malformed UTF-8 in topic name');
  // Wildcards are not allowed in topic names [MQTT-3.3.2-2]
  if (wildcard) throw new ProtocolError(ReasonCode.TopicNameInvalid, 'wildcard in topic name');
}

/**
 * `$SYS` and `$SYS/…` belong to the broker (observability/sys-topics.ts): clients may subscribe
 * but not publish, retain or leave a will there. Topics starting with `$` are the server's by the
 * specification (4.7.2); the other `$` names are left to applications, whose wildcard
 * subscriptions never match them anyway.
 */
export function isBrokerTopic(topic: string): boolean {
  return topic.startsWith('$SYS') && (topic.length === 4 || topic.charCodeAt(4) === 0x2f);
}
export const BROKER_TOPIC_REFUSAL = '$SYS topics are published by the broker only';

/** Returns a reason code for an invalid filter, or null when it is valid. */
export function topicFilterError(filter: string): string | null {
  if (filter.length === 0) return 'empty topic filter'; // [MQTT-4.7.3-1]
  if (!isValidMqttString(filter)) return 'malformed UTF-8 in topic filter';
  const shared = parseSharedFilter(filter);
  if (shared) {
    // ShareName must be non-empty and contain no wildcards or slash [MQTT-4.8.2-1, MQTT-4.8.2-2]
    if (shared.group.length === 0 || /[+#]/.test(shared.group)) return 'invalid share name';
    if (shared.filter.length === 0) return 'shared subscription without a filter';
    return topicFilterError(shared.filter);
  }
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    // '#' must be the last character and alone in its level [MQTT-4.7.1-1]
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return "misplaced '#'";
    // '+' must occupy an entire level [MQTT-4.7.1-2]
    if (level.includes('+') && level !== '+') return "misplaced '+'";
  }
  return null;
}
