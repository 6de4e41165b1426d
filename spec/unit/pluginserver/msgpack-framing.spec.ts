import { expect } from "chai";
import { decode, encode, ExtensionCodec } from "@msgpack/msgpack";
import { findValueEnd, MsgpackFramer, MsgpackFramingError } from "../../../kong/pluginserver/msgpack-framing";

/** Values that exercise every msgpack family: fix/8/16/32 strings, bins, arrays, maps, ints, floats, ext. */
function sampleValues(): unknown[] {
  const extensions = new ExtensionCodec();
  extensions.register({ type: 1, encode: (value) => (value instanceof Set ? new Uint8Array([...value] as number[]) : null), decode: (data) => new Set(data) });
  return [
    null,
    true,
    false,
    0,
    127,
    -1,
    -33,
    255,
    65_535,
    4_294_967_295,
    2 ** 53 - 1,
    -129,
    -(2 ** 31),
    -(2 ** 53),
    1.5,
    "",
    "a".repeat(31),
    "b".repeat(200),
    "c".repeat(70_000),
    new Uint8Array(0),
    new Uint8Array(300),
    new Uint8Array(70_000),
    [],
    Array.from({ length: 20 }, (_, index) => index),
    Array.from({ length: 70_000 }, () => 1),
    { Method: "kong.request.get_headers", Args: [1000] },
    Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`k${index}`, [index, { nested: [true] }]])),
    [0, 7, "plugin.HandleEvent", [{ InstanceId: 2 ** 40, EventName: "access" }]],
    ...[new Set([1]), new Set([1, 2]), new Set([1, 2, 3, 4]), new Set([1, 2, 3, 4, 5, 6, 7, 8]), new Set(Array.from({ length: 16 }, (_, i) => i)), new Set([1, 2, 3]), new Set(Array.from({ length: 300 }, (_, i) => i % 256))].map(
      (set) => ({ extensions, set }),
    ),
  ];
}

function encodeSample(value: unknown): Uint8Array {
  if (typeof value === "object" && value !== null && "extensions" in value) {
    const { extensions, set } = value as { extensions: ExtensionCodec; set: Set<number> };
    return encode(set, { extensionCodec: extensions });
  }
  return encode(value);
}

describe("msgpack-framing (message boundaries in the plugin server's byte stream)", () => {
  it("finds the end of every kind of value, and reports every strict prefix as incomplete", () => {
    for (const value of sampleValues()) {
      const bytes = encodeSample(value);
      expect(findValueEnd(bytes, 0), `end of ${bytes.length}-byte value`).to.equal(bytes.length);
      const step = Math.max(1, Math.floor(bytes.length / 500));
      for (let cut = 0; cut < bytes.length; cut += step) expect(findValueEnd(bytes.subarray(0, cut), 0), `prefix ${cut}`).to.equal(undefined);
    }
  });

  it("cuts a stream split at every byte boundary, or delivered whole, into the same messages", () => {
    const messages = [
      [0, 1, "plugin.HandleEvent", [{ InstanceId: 5, EventName: "access" }]],
      [0, 2, "plugin.Step", [{ EventId: 9, Data: { authorization: ["Bearer abc"] } }]],
      [0, 3, "plugin.StepMultiMap", [{ EventId: 9, Data: new Uint8Array(1000) }]],
    ];
    const stream = Buffer.concat(messages.map((message) => encode(message)));
    for (let split = 0; split <= stream.length; split++) {
      const framer = new MsgpackFramer();
      const frames = [...framer.push(stream.subarray(0, split)), ...framer.push(stream.subarray(split))];
      expect(frames.map((frame) => decode(frame)), `split at ${split}`).to.deep.equal(messages);
    }
    expect(new MsgpackFramer().push(stream).map((frame) => decode(frame))).to.deep.equal(messages);
  });

  it("refuses a byte that is no msgpack type (0xc1) and a message over the size limit", () => {
    expect(() => new MsgpackFramer().push(Buffer.from([0xc1]))).to.throw(MsgpackFramingError, "byte 0xc1 is not a msgpack type");
    const framer = new MsgpackFramer(1024);
    expect(() => framer.push(Buffer.from(encode("x".repeat(2000))).subarray(0, 1500))).to.throw(MsgpackFramingError, "a message exceeds 1024 bytes");
  });
});
