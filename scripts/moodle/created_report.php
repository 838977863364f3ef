<?php
// Makes the custom report `moodle_created_report` reads: source Users, the
// username first (the idnumber with --idnumber), the account's creation time,
// and the "Time created" filter enrolgen sets (--no-filter leaves it out: the
// tests' wrong report). Prints the report's id.
//
//     MOODLE_DIR=/path/to/moodle php scripts/moodle/created_report.php [--idnumber]
//
// (as the web server's user; the report belongs to the site's administrator)
define('CLI_SCRIPT', true);
require(getenv('MOODLE_DIR') . '/config.php');

use core_reportbuilder\local\helpers\report;

$args = array_slice($argv, 1);
$filtered = !in_array('--no-filter', $args, true);
$first = in_array('--idnumber', $args, true) ? 'user:idnumber' : 'user:username';

\core\session\manager::set_user(get_admin());
$r = report::create_report((object) [
    'name' => $filtered ? 'enrolgen: accounts by creation time' : 'Accounts',
    'source' => \core_user\reportbuilder\datasource\users::class,
], false);
report::add_report_column($r->get('id'), $first);
report::add_report_column($r->get('id'), 'user:timecreated');
if ($filtered) {
    report::add_report_filter($r->get('id'), 'user:timecreated');
}
echo $r->get('id'), "\n";
