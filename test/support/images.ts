/**
 * Tiny, real, structurally valid image files generated in memory, with no dependencies beyond
 * node:zlib. Used by the origin test server (unit and integration tests) so that processors can be
 * exercised against images of any dimensions without fixtures on disk.
 *
 * All images are a single flat colour; pixel content is irrelevant, only the container structure
 * and the declared dimensions matter.
 */
import { deflateSync } from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// CRC32 (IEEE 802.3, as used by PNG)
// ---------------------------------------------------------------------------------------------

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32 of the given bytes (unsigned 32-bit). `crc32(Buffer.from('123456789')) === 0xcbf43926`. */
export function crc32(...parts: Uint8Array[]): number {
  let crc = 0xffffffff;
  for (const bytes of parts) {
    for (const byte of bytes) {
      crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function assertDimensions(format: string, width: number, height: number, max: number): void {
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${format} ${name} must be an integer from 1 to ${max}, got ${value}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const typeBytes = Buffer.from(type, 'ascii');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeBytes, data), 0);
  return Buffer.concat([length, typeBytes, data, crc]);
}

/** A valid 8-bit greyscale PNG of the given dimensions (signature, IHDR, IDAT, IEND with correct CRCs). */
export function png(width: number, height: number): Buffer {
  assertDimensions('PNG', width, height, 0x7fffffff);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: greyscale
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method: adaptive
  ihdr[12] = 0; // interlace: none
  // Each scanline: filter byte (0 = None) followed by `width` sample bytes (mid grey).
  const row = Buffer.alloc(1 + width, 0x80);
  row[0] = 0;
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * row.length);
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

// ---------------------------------------------------------------------------------------------
// GIF
// ---------------------------------------------------------------------------------------------

/**
 * A valid GIF89a of the given dimensions: a two-colour global colour table and one image whose
 * pixels are all colour 0. The LZW stream uses minimum code size 2 and emits a clear code every two
 * pixels so every code stays 3 bits wide (the classic "uncompressed GIF" technique).
 */
export function gif(width: number, height: number): Buffer {
  assertDimensions('GIF', width, height, 0xffff);
  const header = Buffer.alloc(13);
  header.write('GIF89a', 0, 'ascii');
  header.writeUInt16LE(width, 6);
  header.writeUInt16LE(height, 8);
  header[10] = 0x80; // global colour table present, colour resolution 1, table size 2^(0+1) = 2
  header[11] = 0; // background colour index
  header[12] = 0; // pixel aspect ratio
  const colourTable = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff, 0xff]);

  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c; // image separator
  descriptor.writeUInt16LE(0, 1); // left
  descriptor.writeUInt16LE(0, 3); // top
  descriptor.writeUInt16LE(width, 5);
  descriptor.writeUInt16LE(height, 7);
  descriptor[9] = 0; // no local colour table, not interlaced

  const minCodeSize = 2;
  const clear = 1 << minCodeSize; // 4
  const end = clear + 1; // 5
  const codeWidth = minCodeSize + 1; // 3
  const codes: number[] = [];
  const pixels = width * height;
  for (let i = 0; i < pixels; i++) {
    if (i % 2 === 0) codes.push(clear);
    codes.push(0);
  }
  codes.push(end);

  // Pack codes LSB-first.
  const packed: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const code of codes) {
    acc |= code << bits;
    bits += codeWidth;
    while (bits >= 8) {
      packed.push(acc & 0xff);
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) packed.push(acc & 0xff);

  // Split into data sub-blocks of at most 255 bytes, terminated by a zero-length block.
  const blocks: number[] = [minCodeSize];
  for (let i = 0; i < packed.length; i += 255) {
    const slice = packed.slice(i, i + 255);
    blocks.push(slice.length, ...slice);
  }
  blocks.push(0);

  return Buffer.concat([header, colourTable, descriptor, Buffer.from(blocks), Buffer.from([0x3b])]);
}

// ---------------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------------

function jpegSegment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0xff;
  head[1] = marker;
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/**
 * A baseline (SOF0) single-component greyscale JPEG of the given dimensions: SOI, APP0 (JFIF),
 * DQT, SOF0, DHT (one DC and one AC table, each with a single 1-bit code), SOS with a scan in
 * which every 8x8 block has a DC difference of 0 and an immediate end-of-block, then EOI.
 * Decodes to a flat mid-grey image.
 */
export function jpeg(width: number, height: number): Buffer {
  assertDimensions('JPEG', width, height, 0xffff);
  const soi = Buffer.from([0xff, 0xd8]);
  const eoi = Buffer.from([0xff, 0xd9]);

  const app0 = jpegSegment(
    0xe0,
    Buffer.from([
      0x4a,
      0x46,
      0x49,
      0x46,
      0x00, // "JFIF\0"
      0x01,
      0x01, // version 1.01
      0x00, // density units: none (aspect ratio only)
      0x00,
      0x01,
      0x00,
      0x01, // x/y density 1:1
      0x00,
      0x00, // no thumbnail
    ]),
  );

  // Table 0, 8-bit precision, all quantisation values 1.
  const dqt = jpegSegment(0xdb, Buffer.concat([Buffer.from([0x00]), Buffer.alloc(64, 1)]));

  const sofPayload = Buffer.alloc(9);
  sofPayload[0] = 8; // sample precision
  sofPayload.writeUInt16BE(height, 1);
  sofPayload.writeUInt16BE(width, 3);
  sofPayload[5] = 1; // components
  sofPayload[6] = 1; // component id
  sofPayload[7] = 0x11; // sampling factors 1x1
  sofPayload[8] = 0; // quantisation table 0
  const sof0 = jpegSegment(0xc0, sofPayload);

  // One code of length 1 ("0") in each table: DC symbol 0 (difference category 0), AC symbol 0x00 (EOB).
  const huffmanTable = (tableClassAndId: number, symbol: number): Buffer => {
    const counts = Buffer.alloc(16);
    counts[0] = 1;
    return Buffer.concat([Buffer.from([tableClassAndId]), counts, Buffer.from([symbol])]);
  };
  const dht = jpegSegment(0xc4, Buffer.concat([huffmanTable(0x00, 0x00), huffmanTable(0x10, 0x00)]));

  const sos = jpegSegment(
    0xda,
    Buffer.from([
      0x01, // components in scan
      0x01,
      0x00, // component 1 uses DC table 0 / AC table 0
      0x00,
      0x3f,
      0x00, // Ss = 0, Se = 63, Ah/Al = 0
    ]),
  );

  // Entropy-coded data: 2 bits ("0" DC, "0" EOB) per 8x8 block, padded with 1 bits.
  // Only the final partial byte contains 1s, so it can never be 0xFF and needs no stuffing.
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const totalBits = blocks * 2;
  const scan = Buffer.alloc(Math.ceil(totalBits / 8), 0);
  const spare = scan.length * 8 - totalBits;
  if (spare > 0) scan[scan.length - 1] = (1 << spare) - 1;

  return Buffer.concat([soi, app0, dqt, sof0, dht, sos, scan, eoi]);
}
