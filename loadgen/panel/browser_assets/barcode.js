// The frame barcode reader of stack/barcode.py, ported line for line (layout: docs/protocol.md,
// "Barcode"). Input: RGBA pixels of at least the top band of a frame; output: the capture time
// in ms since the epoch, or null when the band is unreadable. Luma is the plain mean of R, G
// and B, as stack/barcode.py reads an RGB array.
"use strict";
const BARCODE = Object.freeze({
  BLOCKS_PER_ROW: 40, ROWS: 2, TS_BITS: 48, START: 0xB2, STOP: 0x4D,
  MIN_CONTRAST: 40, MIN_BLOCK_PX: 4,
});

function barcodeBlockSize(width) { return Math.floor(width / BARCODE.BLOCKS_PER_ROW); }

function crc16CcittFalse(bytes) {  // poly 0x1021, init 0xFFFF, no reflection (binascii.crc_hqx)
  let crc = 0xFFFF;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) {
      crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xFFFF : (crc << 1) & 0xFFFF;
    }
  }
  return crc;
}

function byteBits(value) {
  const out = [];
  for (let i = 0; i < 8; i++) out.push((value >> (7 - i)) & 1);
  return out;
}

// rgba: Uint8ClampedArray (or Array) of width*rows*4, rows >= 2 blocks.
function decodeBarcode(rgba, width, rows) {
  const B = BARCODE;
  const b = barcodeBlockSize(width);
  if (b < B.MIN_BLOCK_PX || rows < B.ROWS * b) return null;
  const q = Math.floor(b / 4);  // centre half of each block: edges bleed under lossy coding
  const means = [];
  for (let r = 0; r < B.ROWS; r++) {
    for (let c = 0; c < B.BLOCKS_PER_ROW; c++) {
      let sum = 0, n = 0;
      for (let y = r * b + q; y < r * b + b - q; y++) {
        let i = (y * width + c * b + q) * 4;
        for (let x = c * b + q; x < c * b + b - q; x++, i += 4) {
          sum += (rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3;
          n++;
        }
      }
      means.push(sum / n);
    }
  }
  const markerBits = byteBits(B.START).concat(byteBits(B.STOP));
  const markerMeans = means.slice(0, 8).concat(means.slice(-8));
  let white = 0, nw = 0, black = 0, nb = 0;
  markerBits.forEach((bit, i) => {
    if (bit) { white += markerMeans[i]; nw++; } else { black += markerMeans[i]; nb++; }
  });
  white /= nw; black /= nb;
  if (white - black < B.MIN_CONTRAST) return null;
  const mid = (white + black) / 2;
  const bits = means.map((m) => (m > mid ? 1 : 0));
  const seen = bits.slice(0, 8).concat(bits.slice(-8));
  for (let i = 0; i < 16; i++) if (seen[i] !== markerBits[i]) return null;
  let ts = 0;  // 48 bits: exact in a double (< 2**53); no 32-bit bit operators on it
  for (let i = 8; i < 8 + B.TS_BITS; i++) ts = ts * 2 + bits[i];
  let crc = 0;
  for (let i = 8 + B.TS_BITS; i < 8 + B.TS_BITS + 16; i++) crc = crc * 2 + bits[i];
  const bytes = [];
  let rest = ts;
  for (let k = 0; k < 6; k++) { bytes.unshift(rest % 256); rest = Math.floor(rest / 256); }
  return crc16CcittFalse(bytes) === crc ? ts : null;
}

// The writer: draw `ts` (ms since the epoch, < 2**48) into band `band` of a canvas `width`
// pixels wide, as stack/barcode.py's encode does (white/black blocks of width/40 px; the
// encoder maps RGB 255/0 to luma 235/16).
function drawBarcode(ctx, ts, band, width) {
  const B = BARCODE;
  const b = barcodeBlockSize(width);
  const bytes = [];
  let rest = ts;
  for (let k = 0; k < 6; k++) { bytes.unshift(rest % 256); rest = Math.floor(rest / 256); }
  let bits = byteBits(B.START);
  for (const byte of bytes) bits = bits.concat(byteBits(byte));
  const crc = crc16CcittFalse(bytes);
  bits = bits.concat(byteBits(crc >> 8), byteBits(crc & 0xFF), byteBits(B.STOP));
  const top = band * B.ROWS * b;
  bits.forEach((bit, i) => {
    ctx.fillStyle = bit ? "#ffffff" : "#000000";
    ctx.fillRect((i % B.BLOCKS_PER_ROW) * b, top + Math.floor(i / B.BLOCKS_PER_ROW) * b, b, b);
  });
}
