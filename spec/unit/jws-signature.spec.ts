import { expect } from "chai";
import { createECDH, createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey, type KeyObject, type KeyPairKeyObjectResult } from "node:crypto";
import { prepareJwsVerifier, prepareJwsVerifiers } from "../../plugins/mcp-oauth2/core/jws-signature";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../support/token-factory";

const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

interface SignedInput {
  readonly publicKey: KeyObject;
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

/** A jose-signed token split into what verifyJwsSignature takes (RFC 7515 §5.2). */
async function signWith(key: TestSigningKey): Promise<SignedInput> {
  const [header, payload, signature] = (await signAccessToken(key, { issuer: "https://as.example.com", audience: "https://mcp.example.com/mcp" })).split(".");
  return {
    publicKey: createPublicKey({ key: key.publicJwk as JsonWebKey, format: "jwk" }),
    signingInput: Buffer.from(`${header}.${payload}`),
    signature: Buffer.from(signature, "base64url"),
  };
}

/** What the gate concludes for one key, algorithm and signature: false also when the key does not suit. */
function verifyJwsSignature(algorithm: string, key: KeyObject, signingInput: Buffer, signature: Buffer): boolean {
  return prepareJwsVerifier(key, algorithm)?.(signingInput, signature) ?? false;
}

function listAlgorithmsForKey(key: KeyObject): string[] {
  return [...prepareJwsVerifiers(key).keys()];
}

function flipLastByte(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length - 1] ^= 0x01;
  return copy;
}

describe("jws-signature", () => {
  const signed = new Map<string, SignedInput>();
  let rsa1024: KeyPairKeyObjectResult;
  let ed448: KeyPairKeyObjectResult;
  let secp256k1: KeyPairKeyObjectResult;
  let p256: KeyPairKeyObjectResult;

  before(async () => {
    rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 });
    ed448 = generateKeyPairSync("ed448");
    secp256k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" });
    p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    for (const algorithm of ALGORITHMS) {
      signed.set(algorithm, await signWith(await createSigningKey(algorithm)));
    }
  });

  for (const algorithm of ALGORITHMS) {
    describe(algorithm, () => {
      it("verifies a jose signature", () => {
        const { publicKey, signingInput, signature } = signed.get(algorithm)!;
        expect(verifyJwsSignature(algorithm, publicKey, signingInput, signature)).to.equal(true);
      });

      it("rejects a tampered signing input or signature", () => {
        const { publicKey, signingInput, signature } = signed.get(algorithm)!;
        expect(verifyJwsSignature(algorithm, publicKey, flipLastByte(signingInput), signature)).to.equal(false);
        expect(verifyJwsSignature(algorithm, publicKey, signingInput, flipLastByte(signature))).to.equal(false);
      });

      it("returns false for garbage signature bytes, never throws", () => {
        const { publicKey, signingInput } = signed.get(algorithm)!;
        for (const length of [0, 1, 63, 64, 96, 132, 255, 256, 512]) {
          for (const fill of [0x00, 0xff, 0x30]) {
            expect(verifyJwsSignature(algorithm, publicKey, signingInput, Buffer.alloc(length, fill)), `${length} x ${fill}`).to.equal(false);
          }
        }
      });
    });
  }

  describe("keys that do not suit the algorithm", () => {
    it("refuses an EC P-256 key for ES384 and ES512", () => {
      const { publicKey, signingInput, signature } = signed.get("ES256")!;
      expect(verifyJwsSignature("ES384", publicKey, signingInput, signature)).to.equal(false);
      expect(verifyJwsSignature("ES512", publicKey, signingInput, signature)).to.equal(false);
    });

    it("refuses an RSA key under 2048 bits (RFC 7518 §3.3)", () => {
      const signingInput = Buffer.from("eyJhbGciOiJSUzI1NiJ9.e30");
      const signature = sign("sha256", signingInput, rsa1024.privateKey);
      expect(verifyJwsSignature("RS256", rsa1024.publicKey, signingInput, signature)).to.equal(false);
    });

    it("refuses keys of another type", () => {
      const ed25519 = signed.get("EdDSA")!;
      const rsa = signed.get("RS256")!;
      expect(verifyJwsSignature("RS256", ed25519.publicKey, ed25519.signingInput, ed25519.signature)).to.equal(false);
      expect(verifyJwsSignature("ES256", rsa.publicKey, rsa.signingInput, rsa.signature)).to.equal(false);
      expect(verifyJwsSignature("EdDSA", rsa.publicKey, rsa.signingInput, rsa.signature)).to.equal(false);
    });

    it("refuses an RS256 signature checked as PS256 with the same key", () => {
      const rsa = signed.get("RS256")!;
      expect(verifyJwsSignature("PS256", rsa.publicKey, rsa.signingInput, rsa.signature)).to.equal(false);
    });

    it("refuses private keys and algorithms it does not know", () => {
      const { signingInput, signature, publicKey } = signed.get("ES256")!;
      const p256Signature = sign("sha256", signingInput, { key: p256.privateKey, dsaEncoding: "ieee-p1363" });
      expect(verifyJwsSignature("ES256", p256.publicKey, signingInput, p256Signature)).to.equal(true);
      expect(verifyJwsSignature("ES256", p256.privateKey, signingInput, p256Signature)).to.equal(false);
      for (const algorithm of ["none", "HS256", "ES256K", "es256", ""]) {
        expect(verifyJwsSignature(algorithm, publicKey, signingInput, signature), algorithm).to.equal(false);
      }
    });
  });

  it("refuses ECDSA signatures that are not exactly the JWS length (RFC 7518 §3.4)", () => {
    const { publicKey, signingInput, signature } = signed.get("ES256")!;
    const der = sign("sha256", signingInput, { key: p256.privateKey, dsaEncoding: "der" });
    expect(verifyJwsSignature("ES256", p256.publicKey, signingInput, der)).to.equal(false);
    expect(verifyJwsSignature("ES256", publicKey, signingInput, signature.subarray(0, 63))).to.equal(false);
    expect(verifyJwsSignature("ES256", publicKey, signingInput, Buffer.concat([signature, Buffer.from([0])]))).to.equal(false);
  });

  it("refuses R and S each padded with a zero byte, which DER would read as the same signature", () => {
    const { publicKey, signingInput, signature } = signed.get("ES256")!;
    const padded = Buffer.concat([Buffer.from([0]), signature.subarray(0, 32), Buffer.from([0]), signature.subarray(32)]);
    expect(verifyJwsSignature("ES256", publicKey, signingInput, signature)).to.equal(true);
    expect(verifyJwsSignature("ES256", publicKey, signingInput, padded)).to.equal(false);
  });

  it("answers false, never true and never a throw, when node:crypto throws on what it is given", () => {
    for (const algorithm of ALGORITHMS) {
      const { publicKey, signingInput } = signed.get(algorithm)!;
      const verifier = prepareJwsVerifier(publicKey, algorithm)!;
      expect(() => verify(null, signingInput, publicKey, "signature" as unknown as Buffer), "node:crypto throws").to.throw(TypeError);
      expect(verifier(signingInput, "signature" as unknown as Buffer), algorithm).to.equal(false);
    }
  });

  it("verifies Ed448 signatures as EdDSA (RFC 8037 §3.1)", () => {
    const signingInput = Buffer.from("eyJhbGciOiJFZERTQSJ9.e30");
    expect(verifyJwsSignature("EdDSA", ed448.publicKey, signingInput, sign(null, signingInput, ed448.privateKey))).to.equal(true);
  });

  describe("ECDSA signatures, converted from R || S to DER for node:crypto", () => {
    const curves = [
      ["ES256", "prime256v1", "sha256"],
      ["ES384", "secp384r1", "sha384"],
      ["ES512", "secp521r1", "sha512"],
    ] as const;
    for (const [algorithm, namedCurve, digest] of curves) {
      it(`${algorithm}: agrees with node's own IEEE P1363 check on 300 signatures, valid and tampered`, () => {
        const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve });
        const verifier = prepareJwsVerifier(publicKey, algorithm)!;
        const seen = { valid: 0, invalid: 0 };
        for (let index = 0; index < 300; index++) {
          const signingInput = Buffer.from(`eyJhbGciOiJFUzI1NiJ9.${randomBytes(24).toString("base64url")}`);
          const genuine = sign(digest, signingInput, { key: privateKey, dsaEncoding: "ieee-p1363" });
          // Two of three signatures are tampered: a flipped byte, random bytes, or zeros.
          const candidate = index % 3 === 0 ? genuine : index % 3 === 1 ? flipLastByte(genuine) : index % 2 === 0 ? randomBytes(genuine.length) : Buffer.alloc(genuine.length);
          const expected = verify(digest, signingInput, { key: publicKey, dsaEncoding: "ieee-p1363" }, candidate);
          expect(verifier(signingInput, candidate), `signature ${index}`).to.equal(expected);
          seen[expected ? "valid" : "invalid"]++;
        }
        expect(seen).to.deep.equal({ valid: 100, invalid: 200 });
      });
    }
  });

  it("ES256: verifies R and S that start with a zero byte (dropped in DER) or a high bit (a sign byte added)", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const verifier = prepareJwsVerifier(publicKey, "ES256")!;
    const found = { leadingZero: false, highBit: false };
    // A zero first byte in R or S comes once in ~128 signatures; 5,000 tries miss it with odds of e^-39.
    for (let attempt = 0; attempt < 5000 && !(found.leadingZero && found.highBit); attempt++) {
      const signingInput = Buffer.from(`eyJhbGciOiJFUzI1NiJ9.${attempt}`);
      const signature = sign("sha256", signingInput, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const leadingZero = signature[0] === 0 || signature[32] === 0;
      const highBit = signature[0]! >= 0x80 || signature[32]! >= 0x80;
      if ((leadingZero && !found.leadingZero) || (highBit && !found.highBit)) {
        expect(verifier(signingInput, signature), `attempt ${attempt}`).to.equal(true);
        found.leadingZero ||= leadingZero;
        found.highBit ||= highBit;
      }
    }
    expect(found).to.deep.equal({ leadingZero: true, highBit: true });
  });

  it("ES512: verifies signatures whose DER sequence is 127 bytes (short length) and 128 bytes (long form, X.690 §8.1.3.5)", () => {
    // Signatures this short come from a signer about once in 2^50: the test makes them with a
    // private key chosen for its signature. With the nonce k (a key pair's private key, so that
    // r = x(kG) mod n) and a small target s, the ECDSA equation s = k^-1 (z + r d) gives d.
    const n = 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n;
    const modulo = (value: bigint) => ((value % n) + n) % n;
    const inverse = (value: bigint) => {
      let [low, high, lowFactor, highFactor] = [modulo(value), n, 1n, 0n];
      while (low > 1n) [low, high, lowFactor, highFactor] = [high % low, low, highFactor - (high / low) * lowFactor, lowFactor];
      return modulo(lowFactor);
    };
    const toBigInt = (bytes: Buffer) => BigInt(`0x${bytes.toString("hex")}`);
    const toBytes = (value: bigint) => Buffer.from(value.toString(16).padStart(132, "0"), "hex");
    const signingInput = Buffer.from("eyJhbGciOiJFUzUxMiJ9.e30");
    const z = toBigInt(createHash("sha512").update(signingInput).digest());
    for (const sequenceLength of [127, 128]) {
      const nonce = createECDH("secp521r1");
      nonce.generateKeys();
      const r = modulo(toBigInt(nonce.getPublicKey().subarray(1, 67)));
      const rBytes = toBytes(r).subarray(toBytes(r).findIndex((byte) => byte !== 0));
      const rLength = 2 + rBytes.length + (rBytes[0]! >= 0x80 ? 1 : 0);
      // s: positive, no sign byte, exactly as long as the sequence length asks.
      const s = toBigInt(Buffer.concat([Buffer.from([0x01]), randomBytes(sequenceLength - rLength - 3)]));
      const d = modulo((s * toBigInt(nonce.getPrivateKey()) - z) * inverse(r));
      const signer = createECDH("secp521r1");
      signer.setPrivateKey(toBytes(d));
      const point = signer.getPublicKey();
      const publicKey = createPublicKey({ key: { kty: "EC", crv: "P-521", x: point.subarray(1, 67).toString("base64url"), y: point.subarray(67).toString("base64url") }, format: "jwk" });
      const signature = Buffer.concat([toBytes(r), toBytes(s)]);
      expect(verify("sha512", signingInput, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature), `node itself, ${sequenceLength}`).to.equal(true);
      expect(verifyJwsSignature("ES512", publicKey, signingInput, signature), `DER sequence of ${sequenceLength} bytes`).to.equal(true);
    }
  });

  describe("listing the algorithms of a key", () => {
    it("lists the algorithms of each key type and curve", () => {
      expect(listAlgorithmsForKey(signed.get("RS256")!.publicKey)).to.deep.equal(RSA_ALGORITHMS);
      expect(listAlgorithmsForKey(signed.get("ES256")!.publicKey)).to.deep.equal(["ES256"]);
      expect(listAlgorithmsForKey(signed.get("ES384")!.publicKey)).to.deep.equal(["ES384"]);
      expect(listAlgorithmsForKey(signed.get("ES512")!.publicKey)).to.deep.equal(["ES512"]);
      expect(listAlgorithmsForKey(signed.get("EdDSA")!.publicKey)).to.deep.equal(["EdDSA"]);
      expect(listAlgorithmsForKey(ed448.publicKey)).to.deep.equal(["EdDSA"]);
    });

    it("lists nothing for weak, unsupported or private keys", () => {
      // A DSA key has a modulus of RSA size, but is no RSA key.
      expect(listAlgorithmsForKey(generateKeyPairSync("dsa", { modulusLength: 2048, divisorLength: 256 }).publicKey)).to.deep.equal([]);
      expect(listAlgorithmsForKey(rsa1024.publicKey)).to.deep.equal([]);
      expect(listAlgorithmsForKey(secp256k1.publicKey)).to.deep.equal([]);
      expect(listAlgorithmsForKey(rsa1024.privateKey)).to.deep.equal([]);
      expect(listAlgorithmsForKey(ed448.privateKey)).to.deep.equal([]);
    });

    it("lists nothing for an RSA key with an unsound public exponent: 1 (every signature verifies), even, below 65537 or from 2^256", () => {
      const { n } = signed.get("RS256")!.publicKey.export({ format: "jwk" });
      const withExponent = (exponent: bigint) => {
        const hex = exponent.toString(16);
        return createPublicKey({ key: { kty: "RSA", n, e: Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, "hex").toString("base64url") }, format: "jwk" });
      };
      for (const exponent of [1n, 2n, 3n, 65535n, 65538n, (1n << 256n) + 1n]) expect(listAlgorithmsForKey(withExponent(exponent)), String(exponent)).to.deep.equal([]);
      expect(listAlgorithmsForKey(withExponent(65537n))).to.deep.equal(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]);
      expect(listAlgorithmsForKey(withExponent((1n << 256n) - 1n))).to.have.length(6);
    });

    it("refuses a forged RS256 signature under a key with exponent 1: the bare PKCS #1 v1.5 encoding of the hash", () => {
      const { n } = signed.get("RS256")!.publicKey.export({ format: "jwk" });
      const unsound = createPublicKey({ key: { kty: "RSA", n, e: "AQ" }, format: "jwk" });
      expect(prepareJwsVerifiers(unsound).get("RS256")).to.equal(undefined);
      // What the key would accept: verify() with e = 1 compares the signature itself with the padded hash.
      const signingInput = Buffer.from("e30.e30");
      const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), createHash("sha256").update(signingInput).digest()]);
      const forged = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
      expect(verify("sha256", signingInput, unsound, forged), "node itself accepts it").to.equal(true);
    });

    it("prepares only the algorithms asked for that the key suits", () => {
      const rsa = signed.get("RS256")!.publicKey;
      expect([...prepareJwsVerifiers(rsa, ["PS512", "ES256", "HS256"]).keys()]).to.deep.equal(["PS512"]);
      expect(prepareJwsVerifier(signed.get("ES384")!.publicKey, "ES256")).to.equal(undefined);
    });

    it("binds an rsa-pss key to the PSS algorithms only", () => {
      const { publicKey, privateKey } = generateKeyPairSync("rsa-pss", { modulusLength: 2048 });
      expect(listAlgorithmsForKey(publicKey)).to.deep.equal(["PS256", "PS384", "PS512"]);
      const signingInput = Buffer.from("eyJhbGciOiJQUzI1NiJ9.e30");
      const signature = sign("sha256", signingInput, { key: privateKey, saltLength: 32 });
      expect(verifyJwsSignature("PS256", publicKey, signingInput, signature)).to.equal(true);
    });
  });
});
