// The exported adapter_model.safetensors size for V x H float32 values.
export function adapterFileBytes(V: number, H: number): number {
  const header = JSON.stringify({ __metadata__: { format: 'pt' }, prompt_embeddings: { dtype: 'F32', shape: [V, H], data_offsets: [0, V * H * 4] } });
  return 8 + Math.ceil(header.length / 8) * 8 + V * H * 4;
}
