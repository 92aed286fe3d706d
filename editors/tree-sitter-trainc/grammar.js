/**
 * @file Tree-sitter grammar for trainc, a declarative language for training vision models.
 *
 * This mirrors grammar/trainc.pest (the grammar the compiler uses); keep the two in step.
 * Differences that only matter for invalid input: tree-sitter accepts `return`, `then`, `true`
 * and `false` as names where no keyword could stand, and it does not check that `std/...`
 * paths exist.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

// Precedence, loosest first: `then`, `|>`, `+ -`, `* /`, unary `-`, postfix (call, `.name`, record).
const PREC = {
  then: 1,
  pipe: 2,
  additive: 3,
  multiplicative: 4,
  unary: 5,
  postfix: 6,
};

/**
 * One or more `rule`s separated by commas, with an optional trailing comma.
 *
 * @param {RuleOrLiteral} rule
 * @returns {SeqRule}
 */
function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)), optional(','));
}

/**
 * Zero or more `rule`s separated by commas, with an optional trailing comma.
 *
 * @param {RuleOrLiteral} rule
 * @returns {ChoiceRule}
 */
function commaSep(rule) {
  return optional(commaSep1(rule));
}

module.exports = grammar({
  name: 'trainc',

  extras: $ => [/\s/, $.comment],

  // Item keywords (`model`, `train`, …) are contextual: with `word`, tree-sitter only treats
  // them as keywords where a keyword is valid, so `train = "train"` stays an ordinary field.
  word: $ => $.identifier,

  rules: {
    source_file: $ => repeat($._item),

    _item: $ => choice(
      $.use_declaration,
      $.dataset_declaration,
      $.augment_declaration,
      $.model_declaration,
      $.block_declaration,
      $.train_declaration,
      $.profile_declaration,
      $.sweep_declaration,
    ),

    // ── imports ─────────────────────────────────────────────────────────────────────────
    // use std/augment.{normalize, hflip}      use "layers/common.train".{stem}
    use_declaration: $ => seq(
      'use',
      field('source', choice($.std_path, $.string)),
      '.',
      '{',
      commaSep1(field('name', $.identifier)),
      '}',
    ),

    std_path: _ => token(seq('std', repeat1(seq('/', /[A-Za-z_][A-Za-z0-9_]*/)))),

    // ── data ────────────────────────────────────────────────────────────────────────────
    dataset_declaration: $ => seq(
      'dataset',
      field('name', $.identifier),
      '=',
      field('value', $._expression),
    ),

    // augment det_tf(image, boxes) { resize(256, 256); hflip(p = 0.5) }
    augment_declaration: $ => seq(
      'augment',
      field('name', $.identifier),
      optional(field('targets', $.targets)),
      field('body', $.augment_body),
    ),

    targets: $ => seq('(', commaSep1($.identifier), ')'),

    augment_body: $ => seq('{', repeat(choice($._expression, $._separator)), '}'),

    // ── graphs ──────────────────────────────────────────────────────────────────────────
    model_declaration: $ => seq(
      'model',
      field('name', $.identifier),
      field('parameters', $.parameters),
      optional(seq('->', field('output', $._output_type))),
      field('body', $.body),
    ),

    block_declaration: $ => seq(
      'block',
      field('name', $.identifier),
      field('parameters', $.parameters),
      optional(seq('->', field('output', $._output_type))),
      field('body', $.body),
    ),

    parameters: $ => seq('(', commaSep($.parameter), ')'),

    parameter: $ => seq(
      field('name', $.identifier),
      ':',
      field('type', $._type),
      optional(seq('=', field('default', $._expression))),
    ),

    _type: $ => choice($.tensor_type, $.scalar_type),

    scalar_type: _ => choice('int', 'float', 'bool', 'str'),

    // Image[B, 3, H, W]    [B, classes, _, _]
    tensor_type: $ => seq(
      optional(field('name', alias($.identifier, $.type_identifier))),
      '[',
      commaSep1(field('dimension', $._expression)),
      ']',
    ),

    _output_type: $ => choice($.tensor_type, $.output_types),

    // (heat: [B, classes, H, W], size: [B, 2, H, W])
    output_types: $ => seq('(', commaSep1($.named_type), ')'),

    named_type: $ => seq(field('name', $.identifier), ':', field('type', $.tensor_type)),

    body: $ => seq('{', repeat(choice($._statement, $._separator)), '}'),

    _statement: $ => choice($.return_statement, $.param_statement, $.let_statement),

    return_statement: $ => seq('return', field('value', $._expression)),

    // param pos: [1, N + 1, D] = normal(std = 0.02)
    param_statement: $ => seq(
      'param',
      field('name', $.identifier),
      ':',
      field('type', $.tensor_type),
      optional(seq('=', field('init', $._expression))),
    ),

    // h = x |> relu      c3, c4, c5 = resnet18(x)
    let_statement: $ => seq(
      field('name', $.identifier),
      repeat(seq(',', field('name', $.identifier))),
      '=',
      field('value', $._expression),
    ),

    // ── training ────────────────────────────────────────────────────────────────────────
    train_declaration: $ => seq('train', field('body', $.record)),

    profile_declaration: $ => seq(
      'profile',
      field('name', $.identifier),
      field('body', $.profile_body),
    ),

    profile_body: $ => seq('{', repeat(choice($.setting, $._separator)), '}'),

    // sweep(trials = 8, sampler = tpe) { optimizer.lr = log(1e-4, 1e-1); data.batch = [16, 32] }
    sweep_declaration: $ => seq(
      'sweep',
      optional(field('options', $.arguments)),
      field('body', $.profile_body),
    ),

    // data.limit_batches = 20
    setting: $ => seq(field('path', $.path), '=', field('value', $._expression)),

    path: $ => seq($.identifier, repeat(seq('.', $.identifier))),

    record: $ => seq('{', repeat(choice($.record_field, $._separator)), '}'),

    // epochs = 10      checkpoint { monitor = val.accuracy }
    record_field: $ => seq(
      field('name', $.identifier),
      choice(seq('=', field('value', $._expression)), field('value', $.record)),
    ),

    _separator: _ => choice(';', ','),

    // ── expressions ─────────────────────────────────────────────────────────────────────
    _expression: $ => choice(
      $.binary_expression,
      $.unary_expression,
      $.call_expression,
      $.member_expression,
      $.record_expression,
      $.float,
      $.integer,
      $.string,
      $.boolean,
      $.list,
      $.tuple,
      $.parenthesized_expression,
      $.identifier,
    ),

    binary_expression: $ => choice(
      ...[
        ['then', PREC.then],
        ['|>', PREC.pipe],
        ['+', PREC.additive],
        ['-', PREC.additive],
        ['*', PREC.multiplicative],
        ['/', PREC.multiplicative],
      ].map(([operator, precedence]) => prec.left(precedence, seq(
        field('left', $._expression),
        // @ts-ignore
        field('operator', operator),
        field('right', $._expression),
      ))),
    ),

    unary_expression: $ => prec(PREC.unary, seq(
      field('operator', '-'),
      field('operand', $._expression),
    )),

    call_expression: $ => prec(PREC.postfix, seq(
      field('function', $._expression),
      field('arguments', $.arguments),
    )),

    arguments: $ => seq('(', commaSep(choice($.keyword_argument, $._expression)), ')'),

    keyword_argument: $ => seq(field('name', $.identifier), '=', field('value', $._expression)),

    member_expression: $ => prec(PREC.postfix, seq(
      field('object', $._expression),
      '.',
      field('member', $.identifier),
    )),

    // shapes { batch = 8 }
    record_expression: $ => prec(PREC.postfix, seq(
      field('value', $._expression),
      field('record', $.record),
    )),

    list: $ => seq('[', commaSep($._expression), ']'),

    // (c2: c2, c3: c3)
    tuple: $ => seq('(', commaSep1($.named_expression), ')'),

    named_expression: $ => seq(field('name', $.identifier), ':', field('value', $._expression)),

    parenthesized_expression: $ => seq('(', $._expression, ')'),

    boolean: _ => choice('true', 'false'),

    // 1e-3    0.5    3.0e+2
    float: _ => token(/\d(_?\d)*(\.\d(_?\d)*([eE][+-]?\d+)?|[eE][+-]?\d+)/),

    // 28    1_000
    integer: _ => token(/\d(_?\d)*/),

    string: $ => seq(
      '"',
      repeat(choice($._string_content, $.escape_sequence)),
      '"',
    ),

    // prec(1) keeps `//` inside a string from being lexed as a comment.
    _string_content: _ => token.immediate(prec(1, /[^"\\\n]+/)),

    escape_sequence: _ => token.immediate(seq('\\', /[^\n]/)),

    identifier: _ => /[A-Za-z_][A-Za-z0-9_]*/,

    comment: _ => token(choice(
      seq('//', /[^\n]*/),
      seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/'),
    )),
  },
});
