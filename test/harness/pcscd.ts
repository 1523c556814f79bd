/** The private pcscd and served virtual YubiKeys of the tests: `keyward/testing`'s (src/testing/pcscd.ts). */
export {
  READER_NAME,
  pcscdUnavailable,
  serveVirtualCard,
  startPcscd,
  type PcscRig,
  type ServedVirtualCard,
  type VirtualCardOptions,
} from '../../src/testing/pcscd.js';
