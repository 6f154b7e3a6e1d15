#!/usr/bin/perl
# Drives Assent with Net::Duo (Debian's libnet-duo-perl) as docs/perl-net-duo.md
# says: PERL_LWP_SSL_CA_FILE names Assent's CA, and a user agent replaces
# Net::Duo's pin on Duo's certificate subject with one on Assent's name.
# Prints one JSON object: each call's result or error.
#
# Environment: DUO_IKEY, DUO_SKEY, DUO_HOST (host:port), DUO_SUBJECT_HOST
# (the name Assent's certificate carries), DUO_USERNAME, DUO_PASSCODE,
# PERL_LWP_SSL_CA_FILE.
use strict;
use warnings;

# A user agent that pins the certificate to Assent's name instead of
# *.duosecurity.com. Net::Duo puts its pin in an If-SSL-Cert-Subject header,
# which LWP::Protocol::https checks against the certificate's subject and
# subjectAltNames; this agent rewrites the header before each request.
package AssentAgent;
use parent 'LWP::UserAgent';

sub new {
    my ($class, %opts) = @_;
    my $host = delete $opts{assent_host};
    my $self = LWP::UserAgent::new($class, %opts);
    $self->{assent_subject} = qr{CN=\Q$host\E\z};
    return $self;
}

sub prepare_request {
    my ($self, $request) = @_;
    if (defined $request->header('If-SSL-Cert-Subject')) {
        $request->header('If-SSL-Cert-Subject' => $self->{assent_subject});
    }
    return $self->SUPER::prepare_request($request);
}

package main;

use JSON::PP;
use Net::Duo::Auth;

my %keys = (
    integration_key => $ENV{DUO_IKEY},
    secret_key      => $ENV{DUO_SKEY},
    api_hostname    => $ENV{DUO_HOST},
);

# try runs a call and records its result or the error it died with.
sub try {
    my ($code) = @_;
    my $result = eval { $code->() };
    return { error => "$@" } if $@;
    return { ok => $result };
}

my %out;

# Net::Duo as it is: its pin wants a duosecurity.com certificate.
my $pinned = Net::Duo::Auth->new({%keys});
$out{pinned_check} = try(sub { $pinned->check });

# With the agent pinning Assent's name.
my $duo = Net::Duo::Auth->new({%keys, user_agent => AssentAgent->new(assent_host => $ENV{DUO_SUBJECT_HOST})});
$out{check} = try(sub { $duo->check });
$out{preauth} = try(sub { $duo->call_json('POST', '/auth/v2/preauth', { username => $ENV{DUO_USERNAME} }) });
$out{auth} = try(sub {
    my ($ok, $data) = $duo->auth({ username => $ENV{DUO_USERNAME}, factor => 'passcode', passcode => $ENV{DUO_PASSCODE} });
    return { allowed => $ok ? JSON::PP::true : JSON::PP::false, status => $data->{status} };
});
$out{auth_again} = try(sub {
    my ($ok, $data) = $duo->auth({ username => $ENV{DUO_USERNAME}, factor => 'passcode', passcode => $ENV{DUO_PASSCODE} });
    return { allowed => $ok ? JSON::PP::true : JSON::PP::false, status => $data->{status} };
});

# The agent's pin is a real check: another name is refused.
my $wrong = Net::Duo::Auth->new({%keys, user_agent => AssentAgent->new(assent_host => 'not-assent.example')});
$out{wrong_pin_check} = try(sub { $wrong->check });

print JSON::PP->new->canonical->encode(\%out), "\n";
