import { KE1, RegistrationRecord, RegistrationRequest } from '@cloudflare/opaque-ts';
import { getNativeOpaqueConfig, NativeOpaqueServer } from './server/auth/opaque/native-opaque-server.mjs';
import { randomBytes, createECDH } from 'node:crypto';
const cfg = getNativeOpaqueConfig();
const seed = Array.from(randomBytes(32));
const kp = await cfg.ake.generateAuthKeyPair();
const fast = new NativeOpaqueServer(cfg, seed, { private_key: kp.private_key, public_key: kp.public_key }, 'srv');
const ke1b = [...Buffer.from(process.env.KE1, 'hex')];
const ke1 = KE1.deserialize(cfg, ke1b);
const req = RegistrationRequest.deserialize(cfg, ke1b.slice(0,33));
const record = RegistrationRecord.deserialize(cfg, [...Buffer.from(process.env.REC, 'hex')]);
const N = Number(process.env.N || 500);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (let i=0;i<50;i++) await fast.authInit(ke1, record, 'alice', 'alice');
for (let round = 0; round < 3; round++) {
const e = createECDH('prime256v1'); e.generateKeys(); const pub = e.getPublicKey();
let c0 = cpu(); for (let i=0;i<2000;i++) e.computeSecret(pub); const ecdh = (cpu()-c0)/2000;
c0 = cpu(); let t0 = performance.now();
for (let i=0;i<N;i++) await fast.authInit(ke1, record, 'u'+i, 'u'+i);
const a = (cpu()-c0)/N, aw = (performance.now()-t0)/N;
c0 = cpu();
for (let i=0;i<N;i++) await fast.registerInit(req, 'u'+i);
const r = (cpu()-c0)/N;
console.log(`ecdh ${ecdh.toFixed(3)} authInit cpu ${a.toFixed(3)} (wall ${aw.toFixed(3)}) ratio ${(a/ecdh).toFixed(1)}; registerInit cpu ${r.toFixed(3)} ratio ${(r/ecdh).toFixed(1)}`);
}
