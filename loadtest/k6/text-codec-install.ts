/**
 * Side-effect module: installs the UTF-8 TextEncoder/TextDecoder where the runtime lacks them
 * (k6 v1.x). Imported before @msgpack/msgpack, whose module body constructs both; a plain
 * call in the importing module would run too late, since imports evaluate first.
 */
import { installTextCodec } from './text-codec.ts';

installTextCodec();
