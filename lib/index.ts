// kquant's public API.
export { KquantError, type KquantErrorCode } from './errors.js';
export { backend, setSimd, type BackendInfo, type Device, type SimdLevel } from './backend.js';
export { tensor, zeros, numel, dtypeSize, type DType, type HostTensor } from './tensor.js';
export {
  toFloat16,
  toFloat16Sync,
  fromFloat16,
  fromFloat16Sync,
  toBFloat16,
  toBFloat16Sync,
  fromBFloat16,
  fromBFloat16Sync,
  type ConvertOptions,
} from './ops/convert.js';
export {
  quantizeAbsmax,
  quantizeAbsmaxSync,
  dequantizeAbsmax,
  dequantizeAbsmaxSync,
  quantizeZeroPoint,
  quantizeZeroPointSync,
  dequantizeZeroPoint,
  dequantizeZeroPointSync,
  quantizeStatic,
  quantizeStaticSync,
  quantizePerToken,
  quantizePerTokenSync,
  type AbsmaxQuantized,
  type ZeroPointQuantized,
  type LinearOptions,
  type ZeroPointOptions,
  type DequantizeOptions,
  type QuantDType,
  type QuantParams,
  type StaticOptions,
  type PerTokenOptions,
} from './ops/linear.js';
export {
  MinMaxObserver,
  HistogramObserver,
  type MinMaxObserverOptions,
  type HistogramObserverOptions,
  type ObserveOptions,
  type ParamsOptions,
  type ClipMethod,
} from './ops/calibrate.js';
export { MIN_BLOCK_SIZE, type Granularity } from './ops/layout.js';
