# Prints SpamAssassin's own X-Spam-Relays-* values for each message file:
#   perl sa_relays.pl RULESDIR EXTRA.cf|- MSG...
# "== FILE" then "Trusted: ...", "Untrusted: ...", "Internal: ...",
# "External: ..." -- the format of `tollgate-rules test --relays`. EXTRA.cf
# is appended to the configuration (trusted_networks and friends).
use strict;
use warnings;
use Mail::SpamAssassin;

my ($rules, $extra, @files) = @ARGV;
my $post = '';
if ($extra ne '-') {
    open my $fh, '<', $extra or die "$extra: $!";
    local $/;
    $post = <$fh>;
}
my $sa = Mail::SpamAssassin->new({
    local_tests_only => 1, dont_copy_prefs => 1,
    userprefs_filename => '/dev/null', rules_filename => $rules,
    site_rules_filename => '/nonexistent', post_config_text => $post,
});
$sa->init(0);
for my $f (@files) {
    open my $fh, '<', $f or die "$f: $!";
    my $t = do { local $/; <$fh> };
    my $msg = $sa->parse($t, 1);
    my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
    $pms->extract_message_metadata();
    print "== $f\n";
    for my $h (qw(Trusted Untrusted Internal External)) {
        my $v = $pms->get("X-Spam-Relays-$h");
        print "$h: ", (defined $v ? $v : ''), "\n";
    }
    $pms->finish;
    $msg->finish;
}
