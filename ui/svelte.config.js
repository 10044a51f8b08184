// Svelte options shared by Vite and svelte-check. Runes everywhere.
export default {
  compilerOptions: { runes: true },
};
