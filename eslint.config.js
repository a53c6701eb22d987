// ESLint reads its (flat) config only from a file like this one at the top level; Prettier's
// settings are in package.json. TypeScript is linted with type information from tsconfig.json.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", "logs/", "bench/", "scratch/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      // A leading underscore names a parameter or binding that is unused on purpose.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      // An async function without await is how a Promise-returning method turns a throw into a
      // rejection (WalStorage.load), and how test tables keep every case's type the same.
      "@typescript-eslint/require-await": "off",
    },
  },
  // The launchers in bin/ and this file are plain JavaScript outside tsconfig.json.
  { files: ["**/*.js"], extends: [tseslint.configs.disableTypeChecked] },
);
