export async function resolve(specifier, context, next) {
  if (/^@tensorflow\/tfjs-core\/dist\/[^.]+$/.test(specifier)) return next(`${specifier}.js`, context);
  const fromTfjs = context.parentURL?.includes('/node_modules/@tensorflow/');
  if (!fromTfjs || !(specifier.startsWith('./') || specifier.startsWith('../')) || /\.[cm]?js$/.test(specifier)) return next(specifier, context);
  try {
    return await next(`${specifier}.js`, context);
  } catch {
    return next(`${specifier}/index.js`, context);
  }
}
