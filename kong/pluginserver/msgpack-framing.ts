// Message boundaries in a msgpack byte stream. msgpack has no length prefix: a message ends where
// its value ends, so finding it means walking the type bytes. Doing that before decoding lets each
// complete message be decoded once, with no exception on the common path (a decoder retried on
// partial data throws at the end of every chunk; measured ~35 µs per message on the plugin
// server's hot path), and handles split messages and several messages per chunk alike.

/** Bytes after the type byte that hold a length or count, and what they measure, per type byte. */
interface TypeLayout {
  /** Bytes of fixed payload after the type byte (numbers, fixext). */
  readonly fixed?: number;
  /** Width of a length/count field after the type byte. */
  readonly lengthBytes?: 1 | 2 | 4;
  /** What the length counts: payload bytes (str, bin; ext adds a type byte), or nested values. */
  readonly counts?: "bytes" | "ext-bytes" | "items" | "pairs";
}

const LAYOUTS = new Map<number, TypeLayout>([
  [0xc0, { fixed: 0 }], // nil
  [0xc2, { fixed: 0 }], // false
  [0xc3, { fixed: 0 }], // true
  [0xc4, { lengthBytes: 1, counts: "bytes" }], // bin 8
  [0xc5, { lengthBytes: 2, counts: "bytes" }], // bin 16
  [0xc6, { lengthBytes: 4, counts: "bytes" }], // bin 32
  [0xc7, { lengthBytes: 1, counts: "ext-bytes" }], // ext 8
  [0xc8, { lengthBytes: 2, counts: "ext-bytes" }], // ext 16
  [0xc9, { lengthBytes: 4, counts: "ext-bytes" }], // ext 32
  [0xca, { fixed: 4 }], // float 32
  [0xcb, { fixed: 8 }], // float 64
  [0xcc, { fixed: 1 }], // uint 8
  [0xcd, { fixed: 2 }], // uint 16
  [0xce, { fixed: 4 }], // uint 32
  [0xcf, { fixed: 8 }], // uint 64
  [0xd0, { fixed: 1 }], // int 8
  [0xd1, { fixed: 2 }], // int 16
  [0xd2, { fixed: 4 }], // int 32
  [0xd3, { fixed: 8 }], // int 64
  [0xd4, { fixed: 2 }], // fixext 1
  [0xd5, { fixed: 3 }], // fixext 2
  [0xd6, { fixed: 5 }], // fixext 4
  [0xd7, { fixed: 9 }], // fixext 8
  [0xd8, { fixed: 17 }], // fixext 16
  [0xd9, { lengthBytes: 1, counts: "bytes" }], // str 8
  [0xda, { lengthBytes: 2, counts: "bytes" }], // str 16
  [0xdb, { lengthBytes: 4, counts: "bytes" }], // str 32
  [0xdc, { lengthBytes: 2, counts: "items" }], // array 16
  [0xdd, { lengthBytes: 4, counts: "items" }], // array 32
  [0xde, { lengthBytes: 2, counts: "pairs" }], // map 16
  [0xdf, { lengthBytes: 4, counts: "pairs" }], // map 32
]);

/** The stream cannot be msgpack (0xc1 is never used), or a message exceeds the size limit. */
export class MsgpackFramingError extends Error {
  override readonly name = "MsgpackFramingError";
}

function readLength(bytes: Uint8Array, at: number, width: 1 | 2 | 4): number {
  if (width === 1) return bytes[at]!;
  if (width === 2) return (bytes[at]! << 8) | bytes[at + 1]!;
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

/**
 * The offset just past the msgpack value starting at `start`, or undefined when `bytes` does not
 * hold all of it yet. Walks the values without recursion, so nesting depth costs nothing.
 */
export function findValueEnd(bytes: Uint8Array, start: number): number | undefined {
  let position = start;
  let valuesLeft = 1;
  while (valuesLeft > 0) {
    if (position >= bytes.length) return undefined;
    const type = bytes[position]!;
    valuesLeft--;
    if (type <= 0x7f || type >= 0xe0) {
      position += 1; // positive / negative fixint
    } else if (type <= 0x8f) {
      valuesLeft += 2 * (type & 0x0f); // fixmap
      position += 1;
    } else if (type <= 0x9f) {
      valuesLeft += type & 0x0f; // fixarray
      position += 1;
    } else if (type <= 0xbf) {
      position += 1 + (type & 0x1f); // fixstr
    } else {
      const layout = LAYOUTS.get(type);
      if (layout === undefined) throw new MsgpackFramingError(`byte 0x${type.toString(16)} is not a msgpack type`);
      if (layout.fixed !== undefined) {
        position += 1 + layout.fixed;
        continue;
      }
      const width = layout.lengthBytes!;
      if (position + 1 + width > bytes.length) return undefined;
      const length = readLength(bytes, position + 1, width);
      position += 1 + width;
      if (layout.counts === "bytes") position += length;
      else if (layout.counts === "ext-bytes") position += 1 + length;
      else valuesLeft += layout.counts === "pairs" ? 2 * length : length;
    }
  }
  return position <= bytes.length ? position : undefined;
}

/**
 * Cuts a connection's byte stream into whole msgpack messages: push each chunk, get back the
 * messages it completed (possibly none, possibly several), each as its own bytes.
 */
export class MsgpackFramer {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number = 64 * 1024 * 1024) {}

  /** Throws MsgpackFramingError on bytes that are not msgpack or a message over the limit. */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const messages: Buffer[] = [];
    let start = 0;
    for (;;) {
      const end = start < this.buffered.length ? findValueEnd(this.buffered, start) : undefined;
      if (end === undefined) break;
      messages.push(this.buffered.subarray(start, end));
      start = end;
    }
    this.buffered = this.buffered.subarray(start);
    if (this.buffered.length > this.maxMessageBytes) throw new MsgpackFramingError(`a message exceeds ${this.maxMessageBytes} bytes`);
    return messages;
  }
}
