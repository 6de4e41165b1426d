import { createHmac, createPublicKey } from "node:crypto";
import { expect } from "chai";
import type { JWK } from "jose";
import { readResponseHeader, startGateDriver, summarizeOutcome, type GateDriver } from "../../support/gate-driver";
import { MCP_METADATA_URL, MCP_RESOURCE } from "../../support/gate-requests";
import { JOSE_SPECIFICATION_EXAMPLES, RFC7515_ISSUER, RFC7515_PUBLIC_JWKS } from "../../support/jose-specification-examples";
import { JwksServer } from "../../support/jwks-server";
import { TokenLedger } from "../../support/token-ledger";
import { createSigningKey, encodeSegment, signAccessToken, signRawRs256, type TestSigningKey } from "../../support/token-factory";

const INVALID_TOKEN = "401 invalid_token from plugin";
const INVALID_REQUEST = "400 invalid_request from plugin";

interface HostileToken {
  readonly name: string;
  /** The whole Authorization header value. */
  readonly authorization: string;
  readonly answer: typeof INVALID_TOKEN | typeof INVALID_REQUEST;
}

describe("adversarial: hostile tokens through Kong and the real plugin server", function () {
  this.timeout(60_000);
  const ledger = new TokenLedger();
  let issuer: JwksServer;
  let otherIssuer: JwksServer;
  let coldIssuer: JwksServer;
  let specificationIssuer: JwksServer;
  let attacker: JwksServer;
  let gate: GateDriver;
  let signingKey: TestSigningKey;
  let ecKey: TestSigningKey;
  let encryptionKey: TestSigningKey;
  let sharedKidSigningKey: TestSigningKey;
  let sharedKidEncryptionKey: TestSigningKey;
  let otherIssuerKey: TestSigningKey;
  let attackerKey: TestSigningKey;

  /** An encryption key as Keycloak publishes it next to its signing key. */
  const asEncryptionJwk = (key: TestSigningKey): JWK => ({ ...key.publicJwk, use: "enc", alg: "RSA-OAEP" });

  before(async () => {
    [signingKey, ecKey, encryptionKey, sharedKidSigningKey, sharedKidEncryptionKey, otherIssuerKey, attackerKey] = await Promise.all([
      createSigningKey("RS256", "a-rsa"),
      createSigningKey("ES256", "a-ec"),
      createSigningKey("RS256", "a-enc"),
      createSigningKey("RS256", "a-shared"),
      createSigningKey("RS256", "a-shared"),
      createSigningKey("RS256", "b-rsa"),
      createSigningKey("RS256", "mallory"),
    ]);
    issuer = await JwksServer.start([signingKey.publicJwk, ecKey.publicJwk, asEncryptionJwk(encryptionKey), sharedKidSigningKey.publicJwk, asEncryptionJwk(sharedKidEncryptionKey)]);
    otherIssuer = await JwksServer.start([otherIssuerKey.publicJwk]);
    coldIssuer = await JwksServer.start([signingKey.publicJwk]);
    specificationIssuer = await JwksServer.start([...RFC7515_PUBLIC_JWKS]);
    attacker = await JwksServer.start([attackerKey.publicJwk]);
    gate = await startGateDriver({
      authorization_servers: [
        { url: issuer.url, audience: MCP_RESOURCE },
        { url: otherIssuer.url, audience: MCP_RESOURCE },
        { url: coldIssuer.url, audience: MCP_RESOURCE },
        { url: specificationIssuer.url, issuer: RFC7515_ISSUER, audience: MCP_RESOURCE },
      ],
      resource: MCP_RESOURCE,
      jwks_refetch_cooldown: 3600,
    });
  });

  after(async () => {
    await gate?.close();
    await Promise.all([issuer, otherIssuer, coldIssuer, specificationIssuer, attacker].map((server) => server?.close()));
  });

  async function send(authorization: string) {
    return ledger.watch(await gate.send({ method: "GET", headers: [["Authorization", authorization]] }));
  }

  const now = () => Math.floor(Date.now() / 1000);
  const claimsOf = (iss: string, extra: Record<string, unknown> = {}) => ({ iss, aud: MCP_RESOURCE, sub: "mallory", exp: now() + 600, scope: "mcp:tools", ...extra });

  function hmacToken(algorithm: "HS256" | "HS384" | "HS512", secret: string | Buffer, header: Record<string, unknown>, payload: unknown): string {
    const signingInput = `${encodeSegment({ alg: algorithm, ...header })}.${encodeSegment(payload)}`;
    return `${signingInput}.${createHmac(`sha${algorithm.slice(2)}`, secret).update(signingInput).digest("base64url")}`;
  }

  /** Every hostile token, each claiming an issuer whose key set the gate already holds (or the cold one). */
  function buildCorpus(): HostileToken[] {
    const claims = claimsOf(issuer.url);
    const coldClaims = claimsOf(coldIssuer.url);
    const publicPem = createPublicKey({ key: { ...signingKey.publicJwk }, format: "jwk" }).export({ type: "spki", format: "pem" });
    const attackerSpki = createPublicKey({ key: { ...attackerKey.publicJwk }, format: "jwk" }).export({ type: "spki", format: "der" }).toString("base64");
    const valid = signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa", typ: "JWT" }, claims);
    const [validHeader, validPayload, validSignature] = valid.split(".") as [string, string, string];
    const signedByIssuer = (header: unknown, payload: unknown = claims) => signRawRs256(signingKey, header, payload);
    const payloadText = (members: string) => `{"iss":"${issuer.url}","aud":"${MCP_RESOURCE}","sub":"mallory",${members}}`;
    const bearer = (name: string, token: string, answer: HostileToken["answer"] = INVALID_TOKEN): HostileToken => ({ name, authorization: `Bearer ${ledger.add(token)}`, answer });

    return [
      // RFC 8725 §2.1 / §3.1: no unsecured tokens, no algorithm confusion.
      bearer("alg none, empty signature", `${encodeSegment({ alg: "none", typ: "JWT" })}.${encodeSegment(coldClaims)}.`),
      bearer("alg none with a signature", `${encodeSegment({ alg: "none" })}.${encodeSegment(coldClaims)}.${validSignature}`),
      bearer("alg None", `${encodeSegment({ alg: "None" })}.${encodeSegment(coldClaims)}.${validSignature}`),
      bearer("alg NONE", `${encodeSegment({ alg: "NONE" })}.${encodeSegment(coldClaims)}.${validSignature}`),
      bearer("alg missing", signRawRs256(signingKey, { kid: "a-rsa" }, coldClaims)),
      bearer("alg rs256 in lower case", signRawRs256(signingKey, { alg: "rs256", kid: "a-rsa" }, coldClaims)),
      bearer("HS256 keyed with the issuer's public JWK as JSON", hmacToken("HS256", JSON.stringify(signingKey.publicJwk), { kid: "a-rsa" }, coldClaims)),
      bearer("HS256 keyed with the issuer's public key PEM", hmacToken("HS256", publicPem, { kid: "a-rsa" }, coldClaims)),
      bearer("HS384 keyed with the issuer's public key PEM", hmacToken("HS384", publicPem, { kid: "a-rsa" }, coldClaims)),
      bearer("HS512 keyed with the issuer's public key PEM", hmacToken("HS512", publicPem, {}, coldClaims)),
      bearer("PS256 header over an RS256 signature", `${encodeSegment({ alg: "PS256", kid: "a-rsa" })}.${validPayload}.${validSignature}`),
      bearer("ES256 header naming the RSA key", `${encodeSegment({ alg: "ES256", kid: "a-rsa" })}.${validPayload}.${validSignature}`),
      bearer("RS256 header naming the EC key", signedByIssuer({ alg: "RS256", kid: "a-ec" })),
      // RFC 7517 §4.2: an encryption key never verifies.
      bearer("signed with the issuer's encryption key (use enc)", signRawRs256(encryptionKey, { alg: "RS256", kid: "a-enc" }, claims)),
      bearer("signed with the encryption twin of a shared kid", signRawRs256(sharedKidEncryptionKey, { alg: "RS256", kid: "a-shared" }, claims)),
      bearer("kid of another issuer's key, signed with it", signRawRs256(otherIssuerKey, { alg: "RS256", kid: "b-rsa" }, claims)),
      bearer("another issuer's token relabelled with this issuer's kid", signRawRs256(otherIssuerKey, { alg: "RS256", kid: "a-rsa" }, claims)),
      bearer("this issuer's key claiming the other issuer", signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa" }, claimsOf(otherIssuer.url))),
      // RFC 8725 §3.10: key locations and keys in the token are never followed or trusted.
      bearer("jku pointing at the attacker's JWKS", signRawRs256(attackerKey, { alg: "RS256", kid: "mallory", jku: attacker.jwksUri }, claims)),
      bearer("x5u pointing at the attacker", signRawRs256(attackerKey, { alg: "RS256", kid: "mallory", x5u: `${attacker.url}/cert.pem` }, claims)),
      bearer("jwk embedding the attacker's key", signRawRs256(attackerKey, { alg: "RS256", jwk: attackerKey.publicJwk }, claims)),
      bearer("x5c carrying the attacker's key", signRawRs256(attackerKey, { alg: "RS256", x5c: [attackerSpki] }, claims)),
      bearer("kid that is the attacker's JWKS URL", signRawRs256(attackerKey, { alg: "RS256", kid: attacker.jwksUri }, claims)),
      bearer("kid with a path traversal", signRawRs256(attackerKey, { alg: "RS256", kid: "../../../../etc/passwd" }, claims)),
      bearer("kid that is a number", signedByIssuer({ alg: "RS256", kid: 1 })),
      // RFC 7515 §4.1.11: critical extensions we do not understand.
      bearer("crit exp", signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa", crit: ["exp"], exp: 1 }, coldClaims)),
      bearer("crit empty", signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa", crit: [] }, coldClaims)),
      bearer("crit b64 false (RFC 7797)", signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa", b64: false, crit: ["b64"] }, coldClaims)),
      bearer("typ JWE", signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa", typ: "JWE" }, coldClaims)),
      bearer("typ of an ID token (RFC 9068 §2.1 wants at+jwt or JWT)", signRawRs256(signingKey, { alg: "RS256", kid: "a-rsa", typ: "id_token+jwt" }, coldClaims)),
      // Size and syntax.
      bearer("one character over the size limit", `${validHeader}.${"A".repeat(16384 - validHeader.length - validSignature.length - 1)}.${validSignature}`),
      bearer("a megabyte", `${validHeader}.${"A".repeat(1 << 20)}.${validSignature}`),
      bearer("base64 '+' and '/' instead of base64url", `${validHeader}.${validPayload}.${validSignature.replace(/-/g, "+").replace(/_/g, "/")}x+/`),
      bearer("padding '=' at the end", `${valid}==`),
      bearer("empty token segments", ".."),
      bearer("empty header", `.${validPayload}.${validSignature}`),
      bearer("empty payload", `${validHeader}..${validSignature}`),
      bearer("empty signature", `${validHeader}.${validPayload}.`),
      bearer("a trailing dot", `${valid}.`),
      bearer("two trailing dots", `${valid}..`),
      bearer("a leading dot", `.${valid}`),
      bearer("two parts", `${validHeader}.${validPayload}`),
      bearer("one part", validPayload),
      bearer("JWE compact (five parts)", `${encodeSegment({ alg: "RSA-OAEP", enc: "A256GCM", kid: "a-enc" })}.${"A".repeat(342)}.${"B".repeat(16)}.${"C".repeat(64)}.${"D".repeat(22)}`),
      bearer("six parts", `${valid}.a.b.c`),
      bearer("a flipped signature bit", `${validHeader}.${validPayload}.${validSignature.slice(0, 10)}${validSignature[10] === "A" ? "B" : "A"}${validSignature.slice(11)}`),
      bearer("a payload with more scopes under the original signature", `${validHeader}.${encodeSegment({ ...claims, scope: "mcp:admin" })}.${validSignature}`),
      bearer("header that is not JSON", `${encodeSegment("not json")}.${validPayload}.${validSignature}`),
      bearer("header that is a JSON array", `${encodeSegment([{ alg: "RS256" }])}.${validPayload}.${validSignature}`),
      bearer("header in Latin-1, not UTF-8", `${Buffer.from('{"alg":"RS256","kid":"a-rsa","x":"\xe9"}', "latin1").toString("base64url")}.${validPayload}.${validSignature}`),
      // RFC 8259 §4 / RFC 7515 §5.2: duplicate member names are refused, wherever they are.
      bearer("duplicate alg in the header", signRawRs256(signingKey, '{"alg":"RS256","kid":"a-rsa","alg":"none"}', claims)),
      bearer("duplicate kid in the header", signRawRs256(signingKey, '{"alg":"RS256","kid":"b-rsa","kid":"a-rsa"}', claims)),
      bearer("duplicate iss in the payload", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, `{"iss":"${otherIssuer.url}","iss":"${issuer.url}","aud":"${MCP_RESOURCE}","exp":${now() + 600}}`)),
      bearer("duplicate exp in the payload", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, payloadText(`"exp":1,"exp":${now() + 600}`))),
      bearer("duplicate scope in the payload", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, payloadText(`"exp":${now() + 600},"scope":"mcp:tools","scope":"mcp:admin"`))),
      bearer("duplicate nested member in the payload", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, payloadText(`"exp":${now() + 600},"realm_access":{"roles":["a"],"roles":["mcp:admin"]}`))),
      // RFC 7519 §4.1: claim types.
      bearer("exp as a string", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { exp: String(now() + 600) }))),
      bearer("exp as an array", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { exp: [now() + 600] }))),
      bearer("exp null", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { exp: null }))),
      bearer("exp beyond double range", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, payloadText('"exp":1e400'))),
      bearer("exp in the past", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { exp: now() - 3600 }))),
      bearer("nbf as a string", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { nbf: "0" }))),
      bearer("nbf in the future", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { nbf: now() + 3600 }))),
      bearer("aud as an object", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { aud: { [MCP_RESOURCE]: true } }))),
      bearer("aud as an array with an object", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { aud: [MCP_RESOURCE, { aud: MCP_RESOURCE }] }))),
      bearer("aud missing", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { aud: undefined }))),
      bearer("aud with a trailing slash", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { aud: `${MCP_RESOURCE}/` }))),
      bearer("iss as an array", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url, { iss: [issuer.url] }))),
      bearer("iss with a trailing slash", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(`${issuer.url}/`))),
      bearer("iss in upper case", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, claimsOf(issuer.url.toUpperCase()))),
      bearer("payload that is a JSON string", signedByIssuer({ alg: "RS256", kid: "a-rsa" }, JSON.stringify(JSON.stringify(claims)))),
      // RFC 7519 §5.2: a nested JWT is not an access token this resource server reads.
      bearer("cty JWT wrapping a valid token", signedByIssuer({ alg: "RS256", kid: "a-rsa", cty: "JWT" }, valid)),
      bearer("cty JWT over claims", signedByIssuer({ alg: "RS256", kid: "a-rsa", cty: "JWT" })),
      // The specifications' own examples.
      ...Object.entries(JOSE_SPECIFICATION_EXAMPLES).map(([name, token]) => bearer(name, token)),
      // RFC 6750 §2.1: not a b64token at all.
      bearer("a percent sign", `${validHeader}.${validPayload}.%41${validSignature}`, INVALID_REQUEST),
      bearer("an exclamation mark", `${valid}!`, INVALID_REQUEST),
      bearer("a quote", `"${valid}"`, INVALID_REQUEST),
      bearer("a space inside", `${validHeader}. ${validPayload}.${validSignature}`, INVALID_REQUEST),
      bearer("a tab inside", `${validHeader}.\t${validPayload}.${validSignature}`, INVALID_REQUEST),
      bearer("'=' inside", `${validHeader}=.${validPayload}.${validSignature}`, INVALID_REQUEST),
      bearer("a comma and a second token", `${valid},${valid}`, INVALID_REQUEST),
      bearer("a NUL byte", `${valid}\u0000`, INVALID_REQUEST),
    ];
  }

  it("lets the issuers' own valid tokens through (the corpus is refused for what it is, not for a broken setup)", async () => {
    for (const [server, key] of [[issuer, signingKey], [issuer, ecKey], [otherIssuer, otherIssuerKey]] as const) {
      const token = ledger.add(await signAccessToken(key, { issuer: server.url, audience: MCP_RESOURCE }));
      expect(summarizeOutcome(await send(`Bearer ${token}`))).to.equal("proceed");
    }
    const expiredExample = await send(`Bearer ${ledger.add(JOSE_SPECIFICATION_EXAMPLES["RFC 7515 A.2 (RS256, expired)"] as string)}`);
    // Verified with the RFC's key, so refused for its 2011 expiry: the examples exercise the real signature path.
    expect(readResponseHeader(expiredExample, "WWW-Authenticate")).to.contain('error_description="the token has expired"');
    expect([issuer.requestCount, otherIssuer.requestCount, specificationIssuer.requestCount]).to.deep.equal([1, 1, 1]);
  });

  it("answers every hostile token 401 invalid_token (400 invalid_request when it is no b64token), fetching no key set", async () => {
    for (const server of [issuer, otherIssuer, coldIssuer, specificationIssuer]) server.requestCount = 0;
    const corpus = buildCorpus();
    const answers = new Map<string, string>();
    for (const hostile of corpus) {
      const outcome = await send(hostile.authorization);
      const challenge = readResponseHeader(outcome, "WWW-Authenticate");
      const challenged = challenge?.startsWith(`Bearer error="${hostile.answer.split(" ")[1]}"`) && challenge.endsWith(`resource_metadata="${MCP_METADATA_URL}"`);
      answers.set(hostile.name, challenged ? summarizeOutcome(outcome) : `${summarizeOutcome(outcome)} with challenge ${String(challenge)}`);
    }
    expect(Object.fromEntries(answers)).to.deep.equal(Object.fromEntries(corpus.map((hostile) => [hostile.name, hostile.answer])));
    expect({ issuer: issuer.requestCount, other: otherIssuer.requestCount, cold: coldIssuer.requestCount, rfc: specificationIssuer.requestCount, attacker: attacker.requestCount }).to.deep.equal({
      issuer: 0,
      other: 0,
      cold: 0,
      rfc: 0,
      attacker: 0,
    });
  });

  it("logs no token and echoes none in any answer", () => {
    expect(ledger.size).to.be.greaterThan(80);
    // The scan would see a token, even cut short, where a careless log line would put it.
    const recorded = JOSE_SPECIFICATION_EXAMPLES["RFC 7515 A.2 (RS256, expired)"] as string;
    expect(ledger.findLeaks([`rejecting ${recorded.slice(recorded.lastIndexOf(".") + 1, recorded.length - 200)}...`])).to.have.length(1);
    expect(ledger.findLeaksIn(gate.driver)).to.deep.equal([]);
  });
});
