// Runs the CSAF 2.0 mandatory tests (CSAF §6.1, with the strict JSON schema test) of BSI's
// @secvisogram/csaf-validator-lib on the CSAF documents named on the command line.
//
//     node tests/csaf_validator/validate.mjs <document.json>...
//
// Prints one line per document ("ok" or "FAILED") and, for a failure, every failing test with
// its errors; exits 1 when any document fails any test, 2 on a usage or reading error.
// tests/advisories/test_csaf_validator_lib.py runs it on the portal's documents.
import { readFile } from 'node:fs/promises'

import * as mandatory from '@secvisogram/csaf-validator-lib/mandatoryTests.js'
import { csaf_2_0_strict } from '@secvisogram/csaf-validator-lib/schemaTests.js'
import validateStrict from '@secvisogram/csaf-validator-lib/validateStrict.js'

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node validate.mjs <document.json>...')
  process.exit(2)
}

// The strict JSON schema test (the CSAF schema with no unknown properties allowed) and every
// test of mandatoryTests.js, which exports one function per test of §6.1 (6.1.1 to 6.1.33).
// The schema test comes first: the others assume a document of the right shape.
const tests = [csaf_2_0_strict, ...Object.values(mandatory)]
let failed = 0
for (const file of files) {
  let document
  try {
    document = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    console.error(`${file}: cannot read it as JSON: ${error.message}`)
    process.exit(2)
  }
  const result = await validateStrict(tests, document)
  if (result.isValid) {
    console.log(`ok      ${file} (${tests.length} tests)`)
    continue
  }
  failed += 1
  console.log(`FAILED  ${file}`)
  for (const test of result.tests.filter((t) => !t.isValid)) {
    for (const error of test.errors) {
      console.log(`    ${test.name}: ${error.instancePath || '/'}: ${error.message}`)
    }
    if (test.errors.length === 0) console.log(`    ${test.name}: failed without a message`)
  }
}
if (failed) {
  console.log(`${failed} of ${files.length} documents failed the CSAF mandatory tests`)
  process.exit(1)
}
